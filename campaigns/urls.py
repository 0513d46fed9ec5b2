from django.urls import path

from . import views

urlpatterns = [
    path("", views.campaign_list, name="campaign_list"),
    path("new/", views.campaign_create, name="campaign_create"),
    path("<int:campaign_id>/", views.campaign_detail, name="campaign_detail"),
    path("<int:campaign_id>/edit/", views.campaign_edit, name="campaign_edit"),
    path("<int:campaign_id>/target/", views.campaign_target, name="campaign_target"),
    path("<int:campaign_id>/preview/", views.campaign_preview, name="campaign_preview"),
    path("<int:campaign_id>/steps/add/", views.step_add, name="campaign_step_add"),
    path("<int:campaign_id>/steps/<int:step_id>/", views.step_edit, name="campaign_step_edit"),
    path("<int:campaign_id>/steps/<int:step_id>/delete/", views.step_delete, name="campaign_step_delete"),
    path("<int:campaign_id>/steps/<int:step_id>/move/", views.step_move, name="campaign_step_move"),
    path("<int:campaign_id>/rules/add/", views.rule_add, name="campaign_rule_add"),
    path("<int:campaign_id>/rules/<int:rule_id>/toggle/", views.rule_toggle, name="campaign_rule_toggle"),
    path("<int:campaign_id>/automations/new/", views.automation_new, name="campaign_automation_new"),
    path(
        "<int:campaign_id>/automations/<int:automation_id>/toggle/",
        views.automation_toggle,
        name="campaign_automation_toggle",
    ),
    path("<int:campaign_id>/scan/", views.campaign_scan, name="campaign_scan"),
    path("<int:campaign_id>/rates/", views.campaign_rates, name="campaign_rates"),
    path("<int:campaign_id>/enroll/", views.campaign_enroll, name="campaign_enroll"),
    path("<int:campaign_id>/stop-unmatched/", views.campaign_stop_unmatched, name="campaign_stop_unmatched"),
    path("<int:campaign_id>/<str:action>/", views.campaign_transition, name="campaign_transition"),
    path("enrollments/<int:enrollment_id>/", views.enrollment_detail, name="enrollment_detail"),
    # Audit (CSMs and admins): a recipient's full timeline.
    path("audit/", views.audit_index, name="audit_index"),
    path("audit/<int:recipient_id>/", views.recipient_audit_page, name="recipient_audit"),
    path("enrollments/<int:enrollment_id>/cancel/", views.enrollment_cancel, name="enrollment_cancel"),
]
