"""Properties set on the contact after a successful send: `{"last_renewal_outreach": "{{ send_date }}"}`.

A campaign configures them; they are handed down with the approved email (like its send window) and
filled in by the sender once the provider accepted the email, so they say what really happened.
Values are plain text with a few `{{ variables }}` substituted (no template engine runs)."""

from __future__ import annotations

import re
from datetime import datetime

from outreach.core.errors import ApplicationError

VARIABLE_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
KEY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
VARIABLES = {
    "send_date": "the day it was sent, YYYY-MM-DD (UTC)",
    "send_time": "when it was sent, ISO 8601 (UTC)",
    "subject": "the email's subject",
    "sender_email": "the sender's address",
}
# Written by the sender itself or by the contacts API: a campaign may not overwrite them.
RESERVED = frozenset({"emails", "notes", "last_outreach_at", "last_outreach_campaign", "last_outreach_message"})
MAX_PROPERTIES = 10
MAX_VALUE = 200


def set_properties_clean(properties: dict | None) -> dict[str, str]:
    """Validated key -> value templates; raises ApplicationError naming the first problem."""
    out: dict[str, str] = {}
    for raw_key, raw_value in (properties or {}).items():
        key, value = str(raw_key).strip(), str(raw_value if raw_value is not None else "").strip()
        if not KEY_RE.match(key):
            raise ApplicationError(f"“{key}”: a property name is a letter, then letters, digits or underscores.")
        if key in RESERVED:
            raise ApplicationError(f"“{key}” is set by the system itself; choose another name.")
        if not value or len(value) > MAX_VALUE:
            raise ApplicationError(f"“{key}” needs a value of 1 to {MAX_VALUE} characters.")
        unknown = sorted({name for name in VARIABLE_RE.findall(value) if name not in VARIABLES})
        if unknown:
            raise ApplicationError(
                f"“{key}”: unknown variable(s) {', '.join(unknown)}. Available: {', '.join(VARIABLES)}."
            )
        out[key] = value
    if len(out) > MAX_PROPERTIES:
        raise ApplicationError(f"At most {MAX_PROPERTIES} properties.")
    return out


def set_properties_render(properties: dict | None, *, sent_at: datetime, subject: str, sender_email: str) -> dict:
    """The values to store on the contact for one successful send."""
    values = {
        "send_date": sent_at.date().isoformat(),
        "send_time": sent_at.isoformat(),
        "subject": subject,
        "sender_email": sender_email,
    }
    return {
        key: VARIABLE_RE.sub(lambda m: values.get(m.group(1), ""), str(template))
        for key, template in (properties or {}).items()
        if key not in RESERVED
    }
