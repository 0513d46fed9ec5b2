from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from outreach.mail.selectors import mailboxes_needing_attention
from outreach.people.roles import role_of


def roles(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    role = role_of(user) if user is not None else None
    return {"role": role, "is_admin": role == "admin", "is_csm_or_admin": role in ("csm", "admin")}


def mailbox_alerts(request: HttpRequest) -> dict:
    """One's broken mailboxes, for the banner (mail/_mailbox_banner.html, on the review queue, My
    sending and My mailboxes); read only when a page shows it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"mailbox_alerts": []}
    return {"mailbox_alerts": SimpleLazyObject(lambda: mailboxes_needing_attention(user=user))}
