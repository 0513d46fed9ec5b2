"""Reads about integrations, one visibility rule per model: emitted events, API tokens, webhook
subscriptions and their deliveries."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from outreach.people.roles import is_csm_or_admin

from .models import ApiToken, EmittedEvent, WebhookDelivery, WebhookSubscription


def emitted_events_visible_to(user) -> QuerySet[EmittedEvent]:
    """Reps see events about people they own or emails they send; CSMs and admins see all."""
    qs = EmittedEvent.objects.all()
    if is_csm_or_admin(user):
        return qs
    return qs.filter(Q(sender=user) | Q(recipient__owner=user))


def api_tokens_visible_to(user) -> QuerySet[ApiToken]:
    """A token is its owner's alone, whatever their role."""
    return ApiToken.objects.filter(user=user)


def webhook_subscriptions_visible_to(user) -> QuerySet[WebhookSubscription]:
    """Subscriptions are team-wide, managed by those who may add them (admins); nobody else sees one."""
    if not user.has_perm("outreach.add_webhooksubscription"):
        return WebhookSubscription.objects.none()
    return WebhookSubscription.objects.all()


def webhook_deliveries_visible_to(user) -> QuerySet[WebhookDelivery]:
    """Deliveries of the subscriptions this user may see."""
    return WebhookDelivery.objects.filter(
        subscription__in=webhook_subscriptions_visible_to(user).values("pk")
    ).select_related("subscription", "event")
