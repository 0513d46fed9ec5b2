# Drafts and skips no longer point up at campaigns (their values were copied by campaigns.0004).

from django.db import migrations, models
from django.db.models import Q


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0004_hand_down_plain_values"),
        ("review", "0003_draft_origin_refs_brief"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="draft", name="draft_one_open_per_recipient_campaign"),
        migrations.RemoveField(model_name="draft", name="campaign"),
        migrations.RemoveField(model_name="draft", name="enrollment"),
        migrations.RemoveField(model_name="draft", name="step"),
        migrations.RemoveField(model_name="draftskip", name="campaign"),
        migrations.RemoveField(model_name="draftskip", name="enrollment"),
        migrations.AddConstraint(
            model_name="draft",
            constraint=models.UniqueConstraint(
                condition=Q(state__in=["queued", "drafting", "ready", "failed"]) & Q(origin__isnull=False),
                fields=("recipient", "origin"),
                name="draft_one_open_per_recipient_campaign",
            ),
        ),
    ]
