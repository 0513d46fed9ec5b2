"""Sender domains: every domain a sender's address (or the organization's From) is on, checked for
SPF, DMARC and DKIM daily (`sending_domains_check_all`, in `outreach/schedules.py`) and on demand."""

from __future__ import annotations

import logging
import re

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from outreach.core.errors import ApplicationError
from outreach.mail import dns_checks
from outreach.mail.models import SendingDomain
from outreach.people.models import SenderProfile
from outreach.people.roles import is_admin

from .sending import backend_path, sender_domain

logger = logging.getLogger(__name__)

_SELECTOR = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_-]{1,63})*$")


def sending_domain_names() -> list[str]:
    """The domains we send from: every sender profile's address, and the organization's From."""
    names = {sender_domain(email) for email in SenderProfile.objects.values_list("email", flat=True)}
    names.add(sender_domain(settings.DEFAULT_FROM_EMAIL))
    return sorted(n for n in names if n and n != "localhost")


def sending_domains_sync() -> list[SendingDomain]:
    """A SendingDomain row for every domain we send from (new ones are added, none removed)."""
    for name in sending_domain_names():
        SendingDomain.objects.get_or_create(domain=name)
    return list(SendingDomain.objects.all())


def _selectors_for(domain: SendingDomain) -> list[str]:
    provider = dns_checks.provider_name(backend_path(None))
    known = list(dns_checks.PROVIDER_SELECTORS.get(provider, ())) if provider else []
    if not provider:
        # Unknown provider: try the selectors the usual providers publish.
        known = [s for selectors in dns_checks.PROVIDER_SELECTORS.values() for s in selectors]
    return list(dict.fromkeys([*domain.dkim_selectors, *known]))


def sending_domain_check(*, domain: SendingDomain) -> SendingDomain:
    """Look the domain's records up now and store what they say."""
    provider = dns_checks.provider_name(backend_path(None))
    report = dns_checks.check_domain(domain.domain, selectors=_selectors_for(domain), provider=provider)
    domain.result = report.as_dict()
    domain.passes = report.passes
    domain.checked_at = timezone.now()
    domain.save(update_fields=["result", "passes", "checked_at"])
    if not report.passes:
        failing = ", ".join(f"{c.kind} {c.status}" for c in report.checks if not c.passes)
        logger.warning("sending domain %s fails: %s", domain.domain, failing)
    return domain


def sending_domains_check_all() -> dict[str, bool | None]:
    """The daily re-check: every domain we send from. Returns {domain: passes}."""
    outcome = {}
    for domain in sending_domains_sync():
        outcome[domain.domain] = sending_domain_check(domain=domain).passes
    return outcome


@transaction.atomic
def sending_domain_selectors_set(*, domain: SendingDomain, user, selectors: str) -> SendingDomain:
    """An admin names the DKIM selectors their provider uses (comma or space separated), then it is re-checked."""
    if not is_admin(user):
        raise ApplicationError("Only an admin can change a domain's DKIM selectors.")
    names = [part.strip().lower() for part in re.split(r"[,\s]+", selectors or "") if part.strip()]
    bad = [name for name in names if not _SELECTOR.match(name)]
    if bad:
        raise ApplicationError(f"Not a DKIM selector: {', '.join(bad)} (letters, digits, - and _ only).")
    if len(names) > 10:
        raise ApplicationError("Enter at most 10 selectors.")
    domain.dkim_selectors = names
    domain.save(update_fields=["dkim_selectors"])
    return sending_domain_check(domain=domain)


def sending_domain_check_now(*, user, name: str) -> SendingDomain:
    """ "Check now" from a page: an admin checks any domain we send from, a sender their own."""
    name = (name or "").strip().lower()
    profile = SenderProfile.objects.filter(user=user).first()
    own = sender_domain(profile.email) if profile is not None else ""
    allowed = sending_domain_names() if is_admin(user) else [own]
    if not name or name not in allowed:
        raise ApplicationError(f"{name or 'That'} is not a domain you send from.")
    domain, _ = SendingDomain.objects.get_or_create(domain=name)
    return sending_domain_check(domain=domain)
