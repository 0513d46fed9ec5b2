from django.urls import path

from outreach import views

urlpatterns = [
    path("recipients/", views.recipient_list, name="recipient_list"),
    path("recipients/<int:recipient_id>/", views.recipient_detail, name="recipient_detail"),
    path("suppression/", views.suppression_index, name="suppression_index"),
    path("suppression/add/", views.suppression_add_view, name="suppression_add"),
    path("suppression/bulk/", views.suppression_bulk_view, name="suppression_bulk"),
    path("suppression/<int:entry_id>/remove/", views.suppression_remove_view, name="suppression_remove"),
    path("suppression/check/", views.suppression_check_view, name="suppression_check"),
    # Public: the link in every email. GET confirms, POST (RFC 8058 one-click) unsubscribes.
    path("u/<str:token>/", views.unsubscribe, name="unsubscribe"),
]

# Integrations: personal API tokens and webhook subscriptions.
from outreach import integration_views  # noqa: E402

urlpatterns += [
    path("settings/tokens/", integration_views.token_list, name="settings_tokens"),
    path("settings/tokens/new/", integration_views.token_create, name="settings_token_create"),
    path("settings/tokens/<int:token_id>/revoke/", integration_views.token_revoke, name="settings_token_revoke"),
    path("settings/webhooks/", integration_views.webhook_list, name="settings_webhooks"),
    path("settings/webhooks/<int:subscription_id>/", integration_views.webhook_detail, name="settings_webhook_detail"),
    path(
        "settings/webhooks/<int:subscription_id>/toggle/",
        integration_views.webhook_toggle,
        name="settings_webhook_toggle",
    ),
    path(
        "settings/webhooks/deliveries/<int:delivery_id>/replay/",
        integration_views.webhook_delivery_replay,
        name="settings_webhook_replay",
    ),
]
