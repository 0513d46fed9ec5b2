from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from .models import Account, Fact, ImportJob, Label, LabelEvent, Recipient, SenderProfile
from .services.labels import recipient_labels_add

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

    def save_related(self, request, form, formsets, change):
        # Labels the admin adds go through the labelling service (recorded, announced to
        # automations); the form itself only keeps or removes the ones already there.
        wanted = list(form.cleaned_data.get("labels") or [])
        before = set(form.instance.labels.values_list("pk", flat=True)) if change else set()
        form.cleaned_data["labels"] = [label for label in wanted if label.pk in before]
        super().save_related(request, form, formsets, change)
        added = [(form.instance.pk, label.name) for label in wanted if label.pk not in before]
        recipient_labels_add(pairs=added, via=LabelEvent.Via.ADMIN, actor=request.user)


admin.site.register(Label)

admin.site.register(ImportJob)
