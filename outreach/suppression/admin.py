from django.contrib import admin

from .models import Suppression, SuppressionList


@admin.register(SuppressionList)
class SuppressionListAdmin(admin.ModelAdmin):
    list_display = ("name", "is_global", "created_at")


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    list_display = ("kind", "value", "reason", "suppression_list", "created_at", "removed_at")
    list_filter = ("kind", "reason", "suppression_list")
    search_fields = ("value", "note", "source")
    readonly_fields = ("removed_at", "removed_by", "removal_reason")

    def has_delete_permission(self, request, obj=None):
        return False  # history is kept; remove through the suppression page
