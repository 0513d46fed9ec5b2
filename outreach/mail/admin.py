from django import forms
from django.contrib import admin, messages

from outreach.core.errors import ApplicationError

from .models import (
    EngagementEvent,
    LocalMailboxMessage,
    MailboxConnection,
    OutboundMessage,
    OutboundMessageLog,
    SenderConfig,
    SendingDomain,
    SendingPause,
)
from .services.sending import outbound_message_resolve


class SenderConfigAdminForm(forms.ModelForm):
    smtp_password = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Stored encrypted, never shown again. Leave empty to keep the stored one.",
    )

    class Meta:
        model = SenderConfig
        fields = [
            "user",
            "kind",
            "smtp_host",
            "smtp_port",
            "smtp_username",
            "smtp_use_tls",
            "smtp_use_ssl",
            "is_active",
        ]

    def save(self, commit=True):
        config = super().save(commit=False)
        if self.cleaned_data.get("smtp_password"):
            config.set_smtp_password(self.cleaned_data["smtp_password"])
        if commit:
            config.save()
        return config


@admin.register(SenderConfig)
class SenderConfigAdmin(admin.ModelAdmin):
    form = SenderConfigAdminForm
    list_display = ("user", "kind", "smtp_host", "smtp_port", "is_active", "updated_at")
    list_filter = ("kind", "is_active")


class OutboundMessageLogInline(admin.TabularInline):
    model = OutboundMessageLog
    extra = 0
    can_delete = False
    readonly_fields = ("created_at", "from_state", "to_state", "code", "note", "actor")

    def has_add_permission(self, request, obj=None):
        return False


def _resolve(action: str, label: str):
    def run(modeladmin, request, queryset):
        done = 0
        for message in queryset:
            try:
                outbound_message_resolve(message=message, user=request.user, action=action, note=f"admin: {label}")
                done += 1
            except ApplicationError as exc:
                modeladmin.message_user(request, f"#{message.pk}: {exc.message}", messages.WARNING)
        modeladmin.message_user(request, f"{label}: {done} message(s).")

    run.short_description = f"Unknown outcome: {label}"  # type: ignore[attr-defined]
    run.__name__ = f"resolve_{action}"
    return run


@admin.register(OutboundMessage)
class OutboundMessageAdmin(admin.ModelAdmin):
    list_display = ("id", "to_email", "sender", "subject", "state", "code", "attempts", "not_before", "sent_at")
    list_filter = ("state", "code")
    search_fields = ("to_email", "subject", "message_id", "provider_message_id")
    list_select_related = ("sender",)
    inlines = [OutboundMessageLogInline]
    actions = [
        _resolve("mark_sent", "mark as sent"),
        _resolve("send_again", "send again"),
        _resolve("mark_failed", "mark as failed"),
    ]

    def get_readonly_fields(self, request, obj=None):
        # The outbox is changed only by the sender and by the actions above.
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(LocalMailboxMessage)
class LocalMailboxMessageAdmin(admin.ModelAdmin):
    list_display = ("created_at", "from_email", "subject")
    search_fields = ("subject", "from_email", "message_id")


@admin.register(EngagementEvent)
class EngagementEventAdmin(admin.ModelAdmin):
    list_display = ("kind", "email", "message", "provider", "occurred_at", "processed_at")
    list_filter = ("kind", "provider")
    search_fields = ("email", "provider_event_id", "reply_text")
    list_select_related = ("message",)
    raw_id_fields = ("message", "recipient")


@admin.register(MailboxConnection)
class MailboxConnectionAdmin(admin.ModelAdmin):
    """Health at a glance; connecting (and the password) only through My mailboxes, which checks
    the login before saving."""

    list_display = ["email_address", "user", "kind", "state", "is_default", "last_synced_at", "messages_matched"]
    list_filter = ["kind", "state"]
    search_fields = ["email_address", "user__username"]
    readonly_fields = [f.name for f in MailboxConnection._meta.concrete_fields if f.name != "secret_encrypted"]
    exclude = ["secret_encrypted"]

    def has_add_permission(self, request):
        return False


@admin.register(SendingPause)
class SendingPauseAdmin(admin.ModelAdmin):
    """The record of every automatic brake. Read-only here: resuming releases held emails, so it is
    done on the Pauses page (`/sending/pauses/`) through the service."""

    list_display = ("created_at", "scope", "sender", "domain", "cause", "events", "sends", "resumed_at", "resumed_by")
    list_filter = ("scope", "cause", ("resumed_at", admin.EmptyFieldListFilter))
    search_fields = ("sender__username", "domain", "reason", "resume_note")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(SendingDomain)
class SendingDomainAdmin(admin.ModelAdmin):
    """What each sending domain's DNS said at its last check; checks run from the Domains page."""

    list_display = ("domain", "passes", "checked_at", "dkim_selectors")
    list_filter = ("passes",)
    search_fields = ("domain",)
    readonly_fields = ("result", "passes", "checked_at", "created_at")
