# Drafts stop pointing up at campaigns: who asked becomes a DraftOrigin (campaign id and name as
# handed down), the enrollment and step plain ids, the intent a brief and the send rules a copy;
# the link to the outbound message now points down, from the draft. The values are copied by
# campaigns.0004; the old foreign keys are dropped by review.0004.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("outreach", "0006_outbound_message_plain_refs_and_rules"),
        ("review", "0002_queue_indexes"),
    ]

    operations = [
        migrations.CreateModel(
            name="DraftOrigin",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("campaign_ref", models.PositiveBigIntegerField(unique=True)),
                ("name", models.CharField(max_length=200)),
            ],
            options={"ordering": ["name", "campaign_ref"]},
        ),
        migrations.AddField(
            model_name="draft",
            name="origin",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="drafts",
                to="review.draftorigin",
            ),
        ),
        migrations.AddField(
            model_name="draft",
            name="enrollment_ref",
            field=models.PositiveBigIntegerField(blank=True, db_index=True, null=True),
        ),
        migrations.AddField(
            model_name="draft",
            name="step_ref",
            field=models.PositiveBigIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="draft",
            name="brief",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="draft",
            name="send_rules",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="draft",
            name="outbound_message",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="outreach.outboundmessage",
            ),
        ),
        migrations.AddField(
            model_name="draftskip",
            name="origin",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="skips",
                to="review.draftorigin",
            ),
        ),
        migrations.AddField(
            model_name="draftskip",
            name="enrollment_ref",
            field=models.PositiveBigIntegerField(blank=True, db_index=True, null=True),
        ),
    ]
