from django.urls import path

from . import views

urlpatterns = [
    path("settings/sending/", views.sender_config_edit, name="sender_config"),
    path("settings/domains/", views.sending_domains, name="sending_domains"),
    path("settings/domains/check/", views.sending_domain_check, name="sending_domain_check"),
    path(
        "settings/domains/<int:domain_id>/selectors/", views.sending_domain_selectors, name="sending_domain_selectors"
    ),
    path("sending/pauses/", views.sending_pauses, name="sending_pauses"),
    path("sending/pauses/<int:pause_id>/resume/", views.sending_pause_resume, name="sending_pause_resume"),
    path("settings/mailboxes/", views.mailbox_connections, name="mailbox_connections"),
    path("settings/mailboxes/<int:mailbox_id>/test/", views.mailbox_test, name="mailbox_test"),
    path("settings/mailboxes/<int:mailbox_id>/default/", views.mailbox_default, name="mailbox_default"),
    path("settings/mailboxes/<int:mailbox_id>/disconnect/", views.mailbox_disconnect, name="mailbox_disconnect"),
    path("settings/mailboxes/oauth/<str:provider>/start/", views.mailbox_oauth_start, name="mailbox_oauth_start"),
    path(
        "settings/mailboxes/oauth/<str:provider>/callback/", views.mailbox_oauth_callback, name="mailbox_oauth_callback"
    ),
    path("mailboxes/", views.mailbox_admin, name="mailbox_admin"),
    path("mailbox/", views.mailbox_index, name="mailbox"),
    path("mailbox/<int:mail_id>/", views.mailbox_detail, name="mailbox_detail"),
    # Public: the link in every email. GET confirms, POST (RFC 8058 one-click) unsubscribes.
    path("u/<str:token>/", views.unsubscribe, name="unsubscribe"),
    # Public: our own open pixel and click redirect in mail sent through a sender's own mailbox.
    path("t/o/<str:token>/", views.tracking_open, name="tracking_open"),
    path("t/c/<str:token>/", views.tracking_click, name="tracking_click"),
    path("messages/replies/", views.replies, name="replies"),
    path("threads/<int:thread_id>/", views.thread_detail, name="thread_detail"),
    path("recipients/<int:recipient_id>/threads/", views.contact_threads, name="contact_threads"),
    path("mailboxes/<int:mailbox_id>/threads/", views.mailbox_threads, name="mailbox_threads"),
    path("messages/replies/<int:reply_id>/handled/", views.reply_handled, name="reply_handled"),
    path("messages/replies/<int:reply_id>/snooze/", views.reply_snooze, name="reply_snooze"),
    path("messages/replies/<int:reply_id>/reopen/", views.reply_reopen, name="reply_reopen"),
    path("messages/replies/<int:reply_id>/confirm-removal/", views.reply_removal_confirm, name="reply_removal_confirm"),
]
