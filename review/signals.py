"""Django signals review sends (in-process news for the part above it: campaigns listens)."""

from django.dispatch import Signal

# kwargs: draft (Draft), decision (DraftDecision), edit (DraftEdit | None) — sent on commit after
# approve, edit+approve, reject, regenerate or skip. (The emitted event other systems receive for
# a decision is `draft_edit_signal`, stored by review.events.)
draft_decided = Signal()
