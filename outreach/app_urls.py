from django.urls import path

from outreach import import_views, views

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
    # Public: the link in every email. GET confirms, POST (RFC 8058 one-click) unsubscribes.
    path("u/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
