"""Settings for integrations: personal API tokens (every user) and webhook subscriptions (admins)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from outreach.core.errors import ApplicationError
from outreach.integrations import selectors
from outreach.integrations.forms import ApiTokenForm, WebhookSubscriptionForm
from outreach.integrations.models import ApiToken, WebhookDelivery, WebhookSubscription
from outreach.integrations.services import tokens as api_tokens
from outreach.integrations.services import webhooks

manage_webhooks = permission_required("outreach.add_webhooksubscription", raise_exception=True)


def _get_token_for_user(request: HttpRequest, token_id: int) -> ApiToken:
    return get_object_or_404(selectors.api_tokens_visible_to(request.user), pk=token_id)


def _get_subscription_for_user(request: HttpRequest, subscription_id: int) -> WebhookSubscription:
    return get_object_or_404(selectors.webhook_subscriptions_visible_to(request.user), pk=subscription_id)


def _get_delivery_for_user(request: HttpRequest, delivery_id: int) -> WebhookDelivery:
    return get_object_or_404(selectors.webhook_deliveries_visible_to(request.user), pk=delivery_id)


def _tokens_page(request: HttpRequest, form: ApiTokenForm, new_secret: str = "", status: int = 200) -> HttpResponse:
    context = {
        "tokens": selectors.api_tokens_visible_to(request.user),
        "form": form,
        "new_secret": new_secret,
    }
    return render(request, "integrations/settings_tokens.html", context, status=status)


def token_list(request: HttpRequest) -> HttpResponse:
    return _tokens_page(request, ApiTokenForm())


@require_POST
def token_create(request: HttpRequest) -> HttpResponse:
    form = ApiTokenForm(request.POST)
    if not form.is_valid():
        return _tokens_page(request, form, status=422)
    try:
        created = api_tokens.api_token_create(
            user=request.user, name=form.cleaned_data["name"], scopes=form.cleaned_data["scopes"]
        )
    except ApplicationError as exc:
        form.add_error(exc.extra.get("field"), exc.message)
        return _tokens_page(request, form, status=422)
    # The secret is rendered once, in this response only; only its hash is stored.
    response = _tokens_page(request, ApiTokenForm(), new_secret=created.secret)
    response["Cache-Control"] = "no-store"
    return response


@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = _get_token_for_user(request, token_id)
    api_tokens.api_token_revoke(token=token)
    messages.success(request, f"Revoked “{token.name}”. Requests with it now get 401.")
    return redirect("settings_tokens")


@manage_webhooks
def webhook_list(request: HttpRequest) -> HttpResponse:
    form = WebhookSubscriptionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            sub = webhooks.webhook_subscription_create(created_by=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            form.add_error(exc.extra.get("field"), exc.message)
        else:
            messages.success(request, "Subscribed. Verify deliveries with the signing secret below.")
            return redirect("settings_webhook_detail", subscription_id=sub.pk)
    context = {"subscriptions": selectors.webhook_subscriptions_visible_to(request.user), "form": form}
    return render(request, "integrations/settings_webhooks.html", context, status=422 if form.errors else 200)


@manage_webhooks
def webhook_detail(request: HttpRequest, subscription_id: int) -> HttpResponse:
    sub = _get_subscription_for_user(request, subscription_id)
    deliveries = sub.deliveries.select_related("event").order_by("-id")
    page = Paginator(deliveries, 50).get_page(request.GET.get("page"))
    return render(request, "integrations/settings_webhook_detail.html", {"sub": sub, "page": page})


@manage_webhooks
@require_POST
def webhook_toggle(request: HttpRequest, subscription_id: int) -> HttpResponse:
    sub = _get_subscription_for_user(request, subscription_id)
    webhooks.webhook_subscription_update(subscription=sub, is_active=not sub.is_active)
    messages.success(request, "Subscription enabled." if sub.is_active else "Subscription paused.")
    return redirect("settings_webhook_detail", subscription_id=sub.pk)


@manage_webhooks
@require_POST
def webhook_delivery_replay(request: HttpRequest, delivery_id: int) -> HttpResponse:
    delivery = _get_delivery_for_user(request, delivery_id)
    webhooks.webhook_delivery_replay(delivery=delivery, user=request.user)
    messages.success(request, f"Delivery #{delivery.pk} queued to be sent again.")
    return redirect("settings_webhook_detail", subscription_id=delivery.subscription_id)
