from django.urls import path

from . import views

urlpatterns = [
    path("settings/tokens/", views.token_list, name="settings_tokens"),
    path("settings/tokens/new/", views.token_create, name="settings_token_create"),
    path("settings/tokens/<int:token_id>/revoke/", views.token_revoke, name="settings_token_revoke"),
    path("settings/webhooks/", views.webhook_list, name="settings_webhooks"),
    path("settings/webhooks/<int:subscription_id>/", views.webhook_detail, name="settings_webhook_detail"),
    path("settings/webhooks/<int:subscription_id>/toggle/", views.webhook_toggle, name="settings_webhook_toggle"),
    path(
        "settings/webhooks/deliveries/<int:delivery_id>/replay/",
        views.webhook_delivery_replay,
        name="settings_webhook_replay",
    ),
]
