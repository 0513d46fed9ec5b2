"""Reads about integrations: which emitted events a user may read."""

from __future__ import annotations

from django.db.models import Q

from outreach.people.roles import is_csm_or_admin

from .models import EmittedEvent


def outbound_events_for_user(*, user):
    """Reps see events about people they own or emails they send; CSMs and admins see all."""
    qs = EmittedEvent.objects.all()
    if is_csm_or_admin(user):
        return qs
    return qs.filter(Q(sender=user) | Q(recipient__owner=user))
