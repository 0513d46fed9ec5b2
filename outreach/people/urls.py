from django.urls import path

from . import views

urlpatterns = [
    path("recipients/", views.recipient_list, name="recipient_list"),
    path("recipients/<int:recipient_id>/", views.recipient_detail, name="recipient_detail"),
    path("recipients/<int:recipient_id>/labels/", views.recipient_labels, name="recipient_labels"),
    # On the suppression page; here because it looks the person up first.
    path("suppression/check/", views.suppression_check_view, name="suppression_check"),
    path("imports/", views.import_index, name="import_index"),
    path("imports/<int:job_id>/", views.import_detail, name="import_detail"),
    path("imports/<int:job_id>/mapping/", views.import_mapping, name="import_mapping"),
    path("imports/<int:job_id>/confirm/", views.import_confirm, name="import_confirm"),
    path("imports/<int:job_id>/resume/", views.import_resume, name="import_resume"),
]
