# "Outbound" meant both an email and a webhook event: the event keeps its rows under its own name.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("outreach", "0009_clean_display_text"),
    ]

    operations = [
        migrations.RenameModel(old_name="OutboundEvent", new_name="EmittedEvent"),
        migrations.AlterModelOptions(name="emittedevent", options={"ordering": ["id"]}),
        migrations.AlterField(
            model_name="webhooksubscription",
            name="event_types",
            field=models.JSONField(default=list, help_text="Subset of EmittedEvent.Type values."),
        ),
    ]
