# The outbox no longer points up at review or campaigns (their values were copied by campaigns.0004).

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0004_hand_down_plain_values"),
        ("outreach", "0006_outbound_message_plain_refs_and_rules"),
    ]

    operations = [
        migrations.RemoveField(model_name="outboundmessage", name="draft"),
        migrations.RemoveField(model_name="outboundmessage", name="campaign"),
        migrations.RemoveField(model_name="outboundmessage", name="enrollment"),
        migrations.RemoveField(model_name="outboundmessage", name="step"),
    ]
