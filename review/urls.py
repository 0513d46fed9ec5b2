from django.urls import path

from . import views

urlpatterns = [
    path("", views.queue, name="review_queue"),
    path("progress/", views.progress, name="review_progress"),
    path("request/", views.request_drafts, name="review_request"),
    path("bulk-approve/", views.bulk_approve, name="draft_bulk_approve"),
    path("settings/", views.reviewer_settings, name="reviewer_settings"),
    path("drafts/<int:draft_id>/", views.draft_detail, name="draft_detail"),
    path("drafts/<int:draft_id>/approve/", views.approve, name="draft_approve"),
    path("drafts/<int:draft_id>/edit/", views.edit_approve, name="draft_edit_approve"),
    path("drafts/<int:draft_id>/reject/", views.reject, name="draft_reject"),
    path("drafts/<int:draft_id>/undo/", views.undo_approve, name="draft_undo"),
    path("drafts/<int:draft_id>/regenerate/", views.regenerate, name="draft_regenerate"),
    path("drafts/<int:draft_id>/versions/", views.draft_versions, name="draft_versions"),
    path("drafts/<int:draft_id>/keep/", views.keep_untrusted, name="draft_keep_untrusted"),
    path("drafts/<int:draft_id>/retry/", views.retry, name="draft_retry"),
    path("drafts/<int:draft_id>/skip/", views.skip, name="draft_skip"),
    # Edit analytics (CSMs and admins).
    path("edits/", views.edit_analytics_page, name="edit_analytics"),
    path("deliverability/", views.deliverability_page, name="deliverability"),
    path("edits/<int:edit_id>/", views.edit_analytics_edit, name="edit_analytics_edit"),
    path("edits/export.csv", views.edit_analytics_export, name="edit_analytics_export"),
]
