"""The queue's fast queries split the one draft rule (`drafts_visible_to`) into index range scans;
they must still show each user exactly the drafts that rule allows."""

import pytest

from review import selectors
from review.models import Draft
from tests.factories import DraftFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("role", ["rep", "csm", "admin"])
def test_the_queue_and_its_counts_follow_drafts_visible_to(role, rep, other_rep):
    user = {"rep": rep, "csm": UserFactory(username="csm9", role="csm"), "admin": UserFactory(role="admin")}[role]
    for state in ("ready", "ready", "failed", "approved"):
        DraftFactory(sender=rep, state=state)
        DraftFactory(sender=other_rep, state=state)
        DraftFactory(sender=other_rep, reviewer=user, state=state)
    visible = selectors.drafts_visible_to(user)

    queue = selectors.draft_queue_page(user=user, filters=selectors.QueueFilters())
    assert {d.pk for d in queue} == set(visible.filter(state=Draft.State.READY).values_list("pk", flat=True))

    counts = selectors.draft_state_counts(user=user)
    for state in Draft.State.values:
        assert counts.get(state, 0) == visible.filter(state=state).count(), state
