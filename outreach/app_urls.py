from django.urls import path

from outreach import views, views_sending

urlpatterns = [
    path("recipients/", views.recipient_list, name="recipient_list"),
    path("recipients/<int:recipient_id>/", views.recipient_detail, name="recipient_detail"),
    path("suppression/", views.suppression_index, name="suppression_index"),
    path("suppression/add/", views.suppression_add_view, name="suppression_add"),
    path("suppression/bulk/", views.suppression_bulk_view, name="suppression_bulk"),
    path("suppression/<int:entry_id>/remove/", views.suppression_remove_view, name="suppression_remove"),
    path("suppression/check/", views.suppression_check_view, name="suppression_check"),
    path("settings/sending/", views_sending.sender_config_edit, name="sender_config"),
    path("mailbox/", views_sending.mailbox_index, name="mailbox"),
    path("mailbox/<int:mail_id>/", views_sending.mailbox_detail, name="mailbox_detail"),
    # Public: the link in every email. GET confirms, POST (RFC 8058 one-click) unsubscribes.
    path("u/<str:token>/", views.unsubscribe, name="unsubscribe"),
    # Engagement: replies, one message's timeline, a campaign's rates chart (fragment).
    path("messages/replies/", views.replies, name="replies"),
    path("messages/<int:message_id>/", views.message_timeline, name="message_timeline"),
    path("messages/rates/<int:campaign_id>/", views.campaign_rates, name="campaign_rates"),
]
