"""The edit signal's cost per edit: computing the DraftEdit metrics (character and word
Levenshtein distance, similarity) and storing the row, for a typical and a long email."""

from __future__ import annotations

import statistics
import time

import pytest

from review.edit_metrics import edit_metrics
from review.models import DraftEdit
from tests.factories import DraftFactory, UserFactory

pytestmark = [pytest.mark.benchmark, pytest.mark.django_db]

RUNS = 500
# A third of the approve budget (p95 <= 30 ms), which this cost is part of.
TARGET_MS = 10.0

PARAGRAPH = (
    "From our records you logged in 14 times in October and downloaded the Churn Playbook. Your contract "
    "renews on 2026-12-20, and we would like to hear what is working for your team before then. "
)


def _texts(paragraphs: int) -> tuple[str, str]:
    before = "Hi Liu,\n\n" + "\n\n".join(PARAGRAPH for _ in range(paragraphs)) + "\n\nBest,\nRita"
    # A reviewer's typical edit: a sentence rewritten, a word changed, the sign-off shortened.
    after = before.replace("we would like to hear", "I'd love to hear", 1).replace("Best,\nRita", "Rita")
    return before, after + "\n\nP.S. Happy to send the agenda first."


@pytest.mark.parametrize("paragraphs", [3, 30], ids=["typical", "long"])
def test_edit_signal_cost_per_edit(bench_report, paragraphs):
    before, after = _texts(paragraphs)
    compute = []
    for _ in range(RUNS):
        start = time.perf_counter()
        metrics = edit_metrics(
            subject_before="Your October usage",
            subject_after="October, and your renewal",
            body_before=before,
            body_after=after,
        )
        compute.append((time.perf_counter() - start) * 1000)
    draft, editor = DraftFactory(), UserFactory(password=None)
    store = []
    for _ in range(RUNS // 5):
        start = time.perf_counter()
        DraftEdit.objects.create(
            draft=draft,
            editor=editor,
            subject_before="Your October usage",
            subject_after="October, and your renewal",
            body_before=before,
            body_after=after,
            char_distance=metrics.char_distance,
            normalized_similarity=metrics.normalized_similarity,
            word_distance=metrics.word_distance,
            changed_parts=metrics.changed_parts,
        )
        store.append((time.perf_counter() - start) * 1000)
    c, s = statistics.median(compute), statistics.median(store)
    label = f"edit signal, {len(before):,}-char body ({paragraphs} paragraphs)"
    bench_report.add(f"{label}: compute", f"{c:.2f} ms median", f"<= {TARGET_MS:.0f} ms", c <= TARGET_MS)
    bench_report.add(
        f"{label}: compute + store", f"{c + s:.2f} ms median", f"<= {TARGET_MS:.0f} ms", c + s <= TARGET_MS
    )
    assert metrics.char_distance > 0 and metrics.word_distance > 0
