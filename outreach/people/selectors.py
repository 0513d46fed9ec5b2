"""Reads about people: who may see which recipient and which import."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import ImportJob, Recipient
from .roles import is_admin


def recipients_for_user(*, user) -> QuerySet[Recipient]:
    """Reps see the people they own; those who may change recipients (CSMs, admins) see everyone."""
    qs = Recipient.objects.select_related("account", "owner", "owner__sender")
    if user.has_perm("outreach.change_recipient"):
        return qs
    return qs.filter(owner=user)


def import_jobs_for_user(user) -> QuerySet[ImportJob]:
    """CSV imports a user may see: admins see every import, others their own."""
    qs = ImportJob.objects.select_related("created_by")
    return qs if is_admin(user) else qs.filter(created_by=user)
