# The outbox stops pointing upwards: where a message came from (draft, campaign, enrollment, step)
# becomes plain ids, and the campaign rules it is sent under are copied onto it. The values are
# copied by campaigns.0004; the old foreign keys are dropped by outreach.0007.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("outreach", "0005_merge_api_tokens"),
        ("review", "0002_queue_indexes"),
    ]

    operations = [
        # Nullable on the way out, so the schema can also be migrated back with its rows.
        migrations.AlterField(
            model_name="outboundmessage",
            name="draft",
            field=models.OneToOneField(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="outbound_message",
                to="review.draft",
            ),
        ),
        migrations.AddField(
            model_name="outboundmessage",
            name="draft_ref",
            field=models.PositiveBigIntegerField(blank=True, null=True, unique=True),
        ),
        migrations.AddField(
            model_name="outboundmessage",
            name="campaign_ref",
            field=models.PositiveBigIntegerField(blank=True, db_index=True, null=True),
        ),
        migrations.AddField(
            model_name="outboundmessage",
            name="enrollment_ref",
            field=models.PositiveBigIntegerField(blank=True, db_index=True, null=True),
        ),
        migrations.AddField(
            model_name="outboundmessage",
            name="step_ref",
            field=models.PositiveBigIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="outboundmessage",
            name="send_window",
            field=models.JSONField(
                blank=True, default=dict, help_text='{"days": [0..6], "start": "HH:MM", "end": "HH:MM"}'
            ),
        ),
        migrations.AddField(
            model_name="outboundmessage",
            name="suppression_list_ids",
            field=models.JSONField(blank=True, default=list, help_text="Lists checked besides the global ones."),
        ),
        migrations.AddField(
            model_name="outboundmessage",
            name="open_tracking",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="outboundmessage",
            name="complete_on_send_failure",
            field=models.BooleanField(
                default=False, help_text="Whether the sequence goes on when this email fails (read by campaigns)."
            ),
        ),
    ]
