"""The app registry's entry point: Django loads the `outreach` app's models from here.

Each part keeps its models in its own package (people, suppression, mail, integrations); this
module only gathers them so Django finds them. Code imports from the part, never from here.
"""

# --- Operations: which worker clusters are alive (wiring level, like the qcluster command) ---------
from django.db import models  # noqa: E402

from outreach.integrations.models import (  # noqa: F401
    ApiIdempotencyKey,
    ApiToken,
    EmittedEvent,
    WebhookDelivery,
    WebhookSubscription,
)
from outreach.mail.models import (  # noqa: F401
    EngagementEvent,
    LocalMailboxMessage,
    OutboundMessage,
    OutboundMessageLog,
    SenderConfig,
)
from outreach.people.models import (  # noqa: F401
    Account,
    Fact,
    ImportJob,
    ImportMapping,
    Label,
    LabelEvent,
    Recipient,
    SenderProfile,
)
from outreach.suppression.models import Suppression, SuppressionList  # noqa: F401


class WorkerHeartbeat(models.Model):
    """One row per running `manage.py qcluster`: written every few seconds while it runs, deleted
    when it stops cleanly. /readyz reads the newest; a cluster killed outright leaves a row that
    simply grows old."""

    cluster_id = models.CharField(max_length=64, unique=True)
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    broker = models.CharField(max_length=16)
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-seen_at"]

    def __str__(self) -> str:
        return f"qcluster {self.cluster_id} on {self.host} (pid {self.pid})"
