"""Signals the review app emits; campaigns and outbound webhooks listen."""

from django.dispatch import Signal

# kwargs: draft (Draft), decision (DraftDecision), edit (DraftEdit | None) — sent on commit after
# approve, edit+approve, reject, regenerate or skip. This is the draft_edit_signal.
draft_decided = Signal()
