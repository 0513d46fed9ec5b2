from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from .models import (
    Account,
    EngagementEvent,
    Fact,
    ImportJob,
    Label,
    OutboundMessage,
    Recipient,
    SenderProfile,
    Suppression,
    SuppressionList,
)

User = get_user_model()


class SenderProfileInline(admin.StackedInline):
    model = SenderProfile
    can_delete = False


admin.site.unregister(User)


@admin.register(User)
class TeamMemberAdmin(UserAdmin):
    inlines = [SenderProfileInline]
    list_display = ("username", "email", "first_name", "last_name", "is_staff", "is_active")


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ("name", "domain", "plan", "state", "renewal_date")
    search_fields = ("name", "domain")
    list_filter = ("state", "plan")


class FactInline(admin.TabularInline):
    model = Fact
    extra = 0


@admin.register(Recipient)
class RecipientAdmin(admin.ModelAdmin):
    list_display = ("email", "first_name", "last_name", "account", "owner", "country")
    search_fields = ("email", "first_name", "last_name", "account__name")
    list_select_related = ("account", "owner")
    inlines = [FactInline]
    autocomplete_fields = ("account",)


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


admin.site.register(Label)
admin.site.register(ImportJob)
admin.site.register(OutboundMessage)


@admin.register(EngagementEvent)
class EngagementEventAdmin(admin.ModelAdmin):
    list_display = ("kind", "email", "message", "provider", "occurred_at", "processed_at")
    list_filter = ("kind", "provider")
    search_fields = ("email", "provider_event_id", "reply_text")
    list_select_related = ("message",)
    raw_id_fields = ("message", "recipient")
