from django.urls import path

from . import views

urlpatterns = [
    path("", views.queue, name="review_queue"),
    path("progress/", views.progress, name="review_progress"),
    path("request/", views.request_drafts, name="review_request"),
    path("drafts/<int:draft_id>/", views.draft_detail, name="draft_detail"),
    path("drafts/<int:draft_id>/approve/", views.approve, name="draft_approve"),
    path("drafts/<int:draft_id>/edit/", views.edit_approve, name="draft_edit_approve"),
    path("drafts/<int:draft_id>/reject/", views.reject, name="draft_reject"),
    path("drafts/<int:draft_id>/regenerate/", views.regenerate, name="draft_regenerate"),
    path("drafts/<int:draft_id>/retry/", views.retry, name="draft_retry"),
    path("drafts/<int:draft_id>/skip/", views.skip, name="draft_skip"),
    # Edit-distance signals (CSMs and admins).
    path("signals/", views.signals, name="signals"),
    path("signals/edits/<int:edit_id>/", views.signals_edit_detail, name="signals_edit_detail"),
    path("signals/export.csv", views.signals_export, name="signals_export"),
]
