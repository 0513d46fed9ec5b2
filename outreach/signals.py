"""Signals the foundation emits; higher apps (review, campaigns) and outbound webhooks listen.

Each is sent on commit of the change it reports, so a listener never sees a rolled-back fact.
"""

from django.dispatch import Signal

# kwargs: event (EngagementEvent)
engagement_recorded = Signal()
# kwargs: entry (Suppression)
suppression_added = Signal()
