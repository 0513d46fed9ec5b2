"""The app registry's entry point: Django loads the `outreach` app's models from here.

Each part keeps its models in its own package (people, suppression, mail, integrations); this
module only gathers them so Django finds them. Code imports from the part, never from here.
"""

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
from outreach.people.models import Account, Fact, ImportJob, ImportMapping, Label, Recipient, SenderProfile  # noqa: F401
from outreach.suppression.models import Suppression, SuppressionList  # noqa: F401
