from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from .models import Account, Fact, ImportJob, Label, Recipient, SenderProfile

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


admin.site.register(Label)
admin.site.register(ImportJob)
