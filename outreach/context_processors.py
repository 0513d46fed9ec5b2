from django.http import HttpRequest

from outreach.people.roles import role_of


def roles(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    role = role_of(user) if user is not None else None
    return {"role": role, "is_admin": role == "admin", "is_csm_or_admin": role in ("csm", "admin")}
