from django.contrib import admin

from .models import Campaign, Enrollment, EnrollmentEvent, MilestoneRule, RecipientStage, SequenceStep

for model in (Campaign, SequenceStep, MilestoneRule, RecipientStage):
    admin.site.register(model)


class EnrollmentEventInline(admin.TabularInline):
    model = EnrollmentEvent
    extra = 0
    readonly_fields = ("kind", "from_state", "to_state", "reason", "data", "actor", "created_at")


@admin.register(Enrollment)
class EnrollmentAdmin(admin.ModelAdmin):
    list_display = ("id", "campaign", "recipient", "state", "current_step", "next_due_at", "sender")
    list_filter = ("state", "kind")
    raw_id_fields = ("recipient", "campaign", "sender", "enrolled_by")
    inlines = [EnrollmentEventInline]
