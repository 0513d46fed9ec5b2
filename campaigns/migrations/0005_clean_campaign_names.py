"""Existing campaign names lose the hidden characters Campaign now removes when saving
(zero-width, bidi controls such as U+202E, tag characters)."""

from django.db import migrations

from outreach.core.text import clean_display_fields


def clean_campaign_names(apps, schema_editor):
    campaign = apps.get_model("campaigns", "Campaign")
    changed = []
    for row in campaign.objects.only("pk", "name").order_by("pk").iterator(chunk_size=2000):
        before = row.name
        clean_display_fields(row, ("name",))
        if row.name != before:
            changed.append(row)
    campaign.objects.bulk_update(changed, ["name"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0004_hand_down_plain_values"),
    ]

    operations = [
        # Nothing to undo: the removed characters were never meant to be there.
        migrations.RunPython(clean_campaign_names, migrations.RunPython.noop),
    ]
