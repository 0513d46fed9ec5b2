"""Django signals people sends; higher parts (campaigns) listen.

Sent on commit of the change it reports, so a listener never sees a rolled-back fact.
"""

from django.dispatch import Signal

# kwargs: events (list[LabelEvent]): labels newly added to recipients, by any path (page, API,
# CSV import, admin). Label automations start sequences from them.
labels_added = Signal()
