# Every fact records where it came from (and so whether it is trusted). Existing rows get the
# origin their free-text `source` names; a fact with no recognisable source was entered by the team.

from django.db import migrations, models

ORIGIN_CHOICES = [
    ("team", "Entered by the team"),
    ("csv_import", "CSV import"),
    ("api", "API"),
    ("crm_sync", "CRM sync"),
    ("recipient_email", "The recipient's own email or reply"),
    ("campaign", "Campaign"),
    ("sender_profile", "Sender profile"),
]
SYSTEMS = ("crm", "hubspot", "salesforce", "pipedrive", "billing", "analytics", "marketing", "sync", "zendesk")


def origin_for(source: str) -> str:
    text = (source or "").strip().lower()
    if text.startswith("csv") or "import" in text:
        return "csv_import"
    if text == "api" or text.startswith("api"):
        return "api"
    if any(word in text for word in SYSTEMS):
        return "crm_sync"
    if "reply" in text or "email" in text or "inbound" in text:
        return "recipient_email"
    return "team"


def set_origins(apps, schema_editor):
    Fact = apps.get_model("outreach", "Fact")
    sources = Fact.objects.exclude(source="").values_list("source", flat=True).distinct()
    for source in list(sources):
        origin = origin_for(source)
        if origin != "team":
            Fact.objects.filter(source=source).update(origin=origin)


class Migration(migrations.Migration):
    dependencies = [
        ("outreach", "0010_rename_outbound_event_to_emitted_event"),
    ]

    operations = [
        migrations.AlterField(
            model_name="fact",
            name="source",
            field=models.CharField(blank=True, help_text="Free text: which file, system or person.", max_length=100),
        ),
        migrations.AddField(
            model_name="fact",
            name="origin",
            field=models.CharField(
                choices=ORIGIN_CHOICES,
                default="team",
                help_text="Where the fact came from; decides whether it is trusted.",
                max_length=20,
            ),
        ),
        migrations.RunPython(set_origins, migrations.RunPython.noop),
    ]
