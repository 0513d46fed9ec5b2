from django.urls import path

from outreach import import_views, views, views_sending

urlpatterns = [
    path("recipients/", views.recipient_list, name="recipient_list"),
    path("recipients/<int:recipient_id>/", views.recipient_detail, name="recipient_detail"),
    path("suppression/", views.suppression_index, name="suppression_index"),
    path("suppression/add/", views.suppression_add_view, name="suppression_add"),
    path("suppression/bulk/", views.suppression_bulk_view, name="suppression_bulk"),
    path("suppression/<int:entry_id>/remove/", views.suppression_remove_view, name="suppression_remove"),
    path("suppression/check/", views.suppression_check_view, name="suppression_check"),
    path("imports/", import_views.import_index, name="import_index"),
    path("imports/<int:job_id>/", import_views.import_detail, name="import_detail"),
    path("imports/<int:job_id>/mapping/", import_views.import_mapping, name="import_mapping"),
    path("imports/<int:job_id>/confirm/", import_views.import_confirm, name="import_confirm"),
    path("imports/<int:job_id>/resume/", import_views.import_resume, name="import_resume"),
    path("settings/sending/", views_sending.sender_config_edit, name="sender_config"),
    path("mailbox/", views_sending.mailbox_index, name="mailbox"),
    path("mailbox/<int:mail_id>/", views_sending.mailbox_detail, name="mailbox_detail"),
    # Public: the link in every email. GET confirms, POST (RFC 8058 one-click) unsubscribes.
    path("u/<str:token>/", views.unsubscribe, name="unsubscribe"),
    # Engagement: replies, one message's timeline, a campaign's rates chart (fragment).
    path("messages/replies/", views.replies, name="replies"),
    path("messages/<int:message_id>/", views.message_timeline, name="message_timeline"),
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
