from django.urls import path

from . import views

urlpatterns = [
    path("suppression/", views.suppression_index, name="suppression_index"),
    path("suppression/add/", views.suppression_add_view, name="suppression_add"),
    path("suppression/bulk/", views.suppression_bulk_view, name="suppression_bulk"),
    path("suppression/<int:entry_id>/remove/", views.suppression_remove_view, name="suppression_remove"),
]
