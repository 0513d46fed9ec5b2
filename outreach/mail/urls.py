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
    path("mailbox/", views.mailbox_index, name="mailbox"),
    path("mailbox/<int:mail_id>/", views.mailbox_detail, name="mailbox_detail"),
    # Public: the link in every email. GET confirms, POST (RFC 8058 one-click) unsubscribes.
    path("u/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("messages/replies/", views.replies, name="replies"),
]
