from django.urls import path

from review import views

urlpatterns = [
    # Edit-distance signals (CSMs and admins).
    path("signals/", views.signals, name="signals"),
    path("signals/edits/<int:edit_id>/", views.signals_edit_detail, name="signals_edit_detail"),
    path("signals/export.csv", views.signals_export, name="signals_export"),
]
