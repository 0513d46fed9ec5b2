"""Django signals mail sends; higher parts (integrations, review, campaigns) listen.

Each is sent on commit of the change it reports, so a listener never sees a rolled-back fact.
"""

from django.dispatch import Signal

# kwargs: event (EngagementEvent)
engagement_recorded = Signal()
# kwargs: message (OutboundMessage) — sent on commit when a message ends as sent, failed, skipped
# or unknown; campaigns uses it to move a sequence on.
outbound_message_finished = Signal()
# kwargs: pause (SendingPause), held (int) — sent on commit when the automatic brakes pause a
# sender or a sending domain.
sending_paused = Signal()
# kwargs: pause (SendingPause), released (int) — sent on commit when a person resumes it.
sending_resumed = Signal()
