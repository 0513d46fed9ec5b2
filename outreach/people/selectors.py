"""Reads about people: who may see which recipient and which import.

Each model has one visibility rule, `<things>_visible_to(user)`, used by every page, partial,
API route, export and preview; nothing else decides who sees a recipient."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import ImportJob, Recipient, SenderProfile
from .roles import is_admin, is_csm_or_admin


def recipients_visible_to(user) -> QuerySet[Recipient]:
    """Reps see the people they own; those who may change recipients (CSMs, admins) see everyone."""
    qs = Recipient.objects.select_related("account", "owner", "owner__sender")
    if user.has_perm("outreach.change_recipient"):
        return qs
    return qs.filter(owner=user)


def inboxes_sendable_by(*, user) -> QuerySet[SenderProfile]:
    """The inboxes (sender profiles) this user may send from: their own; those who manage
    recipients (CSMs, admins) any active team member's, whose review queue then gets the draft (the
    person who sends still approves it). Inactive members send nothing."""
    qs = SenderProfile.objects.select_related("user").filter(user__is_active=True)
    if user.has_perm("outreach.change_recipient"):
        return qs
    return qs.filter(user=user)


def import_jobs_visible_to(user) -> QuerySet[ImportJob]:
    """CSV imports a user may see: admins see every import, others their own."""
    qs = ImportJob.objects.select_related("created_by")
    return qs if is_admin(user) else qs.filter(created_by=user)


def inboxes_visible_to(user) -> QuerySet[SenderProfile]:
    """Whose inbox (sender profile) a user may read, its threads included: a rep their own; CSMs
    and admins everyone's, former team members' too (their history stays readable)."""
    qs = SenderProfile.objects.select_related("user")
    return qs if is_csm_or_admin(user) else qs.filter(user=user)
