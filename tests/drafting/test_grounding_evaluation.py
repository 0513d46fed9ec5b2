"""The grounding check against its public evaluation set (tests/drafting/grounding_cases.py):
every unsupported claim is flagged, and at most 5 % of supported claims are."""

from __future__ import annotations

import pytest

from .grounding_cases import CASES, evaluate, score


def test_the_evaluation_set_is_large_enough_and_covers_every_group():
    assert len(CASES) >= 150
    groups = {c.group for c in CASES}
    assert {"worked examples", "ranges", "rounding", "third parties", "languages", "provenance"} <= groups
    assert sum(len(c.unsupported) for c in CASES) >= 60


@pytest.mark.parametrize("case", CASES, ids=[f"{c.group}: {c.sentence[:50]}" for c in CASES])
def test_every_unsupported_claim_is_flagged(case):
    outcome = evaluate(case)
    assert outcome.missed == [], outcome.claims


def test_recall_is_complete_and_few_supported_claims_are_flagged():
    result, outcomes = score()
    assert result.recall == 1.0
    assert result.supported_flagged_rate <= 0.05, [
        (o.case.sentence, o.false_alarms) for o in outcomes if o.false_alarms
    ]
