"""The grounding check's quality on its public evaluation set: recall of unsupported claims
(target 100 %) and the rate of supported claims flagged (target at most 5 %), plus its speed."""

from __future__ import annotations

import time

import pytest

from tests.drafting.grounding_cases import CASES, score

pytestmark = [pytest.mark.benchmark]


def test_grounding_evaluation(bench_report):
    start = time.perf_counter()
    result, _ = score()
    per_case_ms = (time.perf_counter() - start) * 1000 / len(CASES)
    print(f"\n  {result.line()}")
    bench_report.add(
        f"grounding: recall of unsupported claims ({result.cases} cases)",
        f"{result.recall:.1%} ({result.unsupported - result.missed}/{result.unsupported})",
        "100 %",
        result.recall == 1.0,
    )
    bench_report.add(
        "grounding: supported claims flagged",
        f"{result.supported_flagged_rate:.1%} ({result.false_alarms}/{result.supported})",
        "<= 5 %",
        result.supported_flagged_rate <= 0.05,
    )
    bench_report.add("grounding: check per sentence", f"{per_case_ms:.2f} ms")
