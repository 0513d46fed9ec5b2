"""Django signals suppression sends; higher parts (integrations, campaigns) listen.

Sent on commit of the change it reports, so a listener never sees a rolled-back fact.
"""

from django.dispatch import Signal

# kwargs: entry (Suppression)
suppression_added = Signal()
