"""Roles are Django groups with permissions: rep < csm < admin.

The groups and their permissions are (re)created after every migrate, so a fresh database and
an upgraded one agree on what each role may do.
"""

from __future__ import annotations

from django.apps import apps as global_apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group
from django.db.models.signals import post_migrate

REP, CSM, ADMIN = "rep", "csm", "admin"
ROLES = (REP, CSM, ADMIN)

# app_label.codename for each role; admin gets every permission of the three apps.
REP_PERMISSIONS = {
    "outreach.view_recipient",
    "outreach.view_account",
    "outreach.view_fact",
    "outreach.view_outboundmessage",
    "outreach.view_engagementevent",
    "review.view_draft",
    "review.change_draft",
    "review.add_draft",
    "campaigns.view_campaign",
}
CSM_PERMISSIONS = REP_PERMISSIONS | {
    "outreach.add_recipient",
    "outreach.change_recipient",
    "outreach.add_account",
    "outreach.change_account",
    "outreach.add_fact",
    "outreach.change_fact",
    "outreach.add_importjob",
    "outreach.view_importjob",
    "review.view_draftedit",
    "campaigns.add_campaign",
    "campaigns.change_campaign",
    "campaigns.add_sequencestep",
    "campaigns.change_sequencestep",
    "campaigns.delete_sequencestep",
    "campaigns.view_enrollment",
    "campaigns.add_enrollment",
    "campaigns.change_enrollment",
}
PROJECT_APPS = ("outreach", "review", "campaigns")


def ensure_role_groups(**kwargs) -> None:
    from django.contrib.auth.models import Permission

    def perms(codes: set[str]) -> list[Permission]:
        wanted = {tuple(code.split(".", 1)) for code in codes}
        found = Permission.objects.filter(content_type__app_label__in=PROJECT_APPS).select_related("content_type")
        return [p for p in found if (p.content_type.app_label, p.codename) in wanted]

    every = list(Permission.objects.filter(content_type__app_label__in=PROJECT_APPS))
    for name, granted in ((REP, perms(REP_PERMISSIONS)), (CSM, perms(CSM_PERMISSIONS)), (ADMIN, every)):
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(granted)


def connect_signals() -> None:
    # After the last project app's migrate: by then the review and campaigns permissions exist
    # (Django creates each app's permissions in that app's own post_migrate).
    post_migrate.connect(ensure_role_groups, sender=global_apps.get_app_config(PROJECT_APPS[-1]), dispatch_uid="roles")


class RoleModelBackend(ModelBackend):
    """Django's ModelBackend, reading a user's group permissions together with their group names
    (one query where there were two on every request) and remembering the role they give."""

    def get_user(self, user_id):
        # The user's own one-to-one rows the project names (settings.AUTH_USER_SELECT_RELATED, e.g.
        # review settings) come in the same query as the user: reading them costs no query.
        related = getattr(settings, "AUTH_USER_SELECT_RELATED", ())
        user = get_user_model()._default_manager.select_related(*related).filter(pk=user_id).first()
        return user if user is not None and self.user_can_authenticate(user) else None

    def get_group_permissions(self, user_obj, obj=None):
        if user_obj.is_superuser or not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return super().get_group_permissions(user_obj, obj)
        if not hasattr(user_obj, "_group_perm_cache"):
            # A LEFT JOIN from the groups: a group without permissions still names a role.
            rows = Group.objects.filter(user=user_obj).values_list(
                "name", "permissions__content_type__app_label", "permissions__codename"
            )
            names, perms = set(), set()
            for name, app_label, codename in rows:
                names.add(name)
                if codename:
                    perms.add(f"{app_label}.{codename}")
            user_obj._group_perm_cache = perms
            user_obj._outreach_role = _highest_of(names)
        return user_obj._group_perm_cache


def role_of(user) -> str | None:
    """The highest role a user holds (superusers are admins).

    Remembered on the user object, as Django remembers permissions: a request asks several times
    (views, selectors, the navigation) and the user is loaded afresh for each request."""
    if not user.is_authenticated:
        return None
    if not hasattr(user, "_outreach_role"):
        user._outreach_role = _highest_role(user)
    return user._outreach_role


def _highest_role(user) -> str | None:
    if user.is_superuser:
        return ADMIN
    return _highest_of({g.name for g in user.groups.all()})


def _highest_of(group_names: set[str]) -> str | None:
    for role in (ADMIN, CSM, REP):
        if role in group_names:
            return role
    return None


def is_admin(user) -> bool:
    return role_of(user) == ADMIN


def is_csm_or_admin(user) -> bool:
    return role_of(user) in (CSM, ADMIN)
