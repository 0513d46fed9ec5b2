"""Learning from edits, measured: 30 successive drafts of one campaign and sender, each approved
after the same reviewer edits (greeting changed, the second fact's sentence deleted, a phrase cut
from the key message). The character edit distance per draft, with the offline writer, with a
model behind the Anthropic stub (tests/anthropic_stub.py, reading the examples from the prompt),
and without edit examples (the control)."""

from __future__ import annotations

import statistics

import pytest

from outreach.drafting import AnthropicProvider, OfflineProvider
from review import services
from tests.anthropic_stub import AnthropicStub
from tests.edit_analytics.learning_sim import run, simulated_model
from tests.factories import UserFactory

pytestmark = [pytest.mark.benchmark, pytest.mark.django_db]

DRAFTS = 30


def _curve(distances: list[int]) -> str:
    first, last = statistics.mean(distances[:5]), statistics.mean(distances[-5:])
    return f"first 5: {first:.0f} chars, last 5: {last:.0f} chars; per draft {distances}"


@pytest.mark.parametrize("writer", ["offline", "anthropic stub", "offline, no examples"])
def test_edit_distance_over_successive_drafts(bench_report, writer, monkeypatch):
    sender = UserFactory(role="rep")
    if writer == "offline, no examples":
        monkeypatch.setattr(services, "EDIT_EXAMPLES", 0)
    if writer == "anthropic stub":
        with AnthropicStub() as stub:
            stub.responder = simulated_model
            provider = AnthropicProvider(api_key="k", model="claude-sonnet-4-6", base_url=stub.url, max_retries=0)
            distances = run(DRAFTS, provider, sender=sender)
    else:
        distances = run(DRAFTS, OfflineProvider(), sender=sender)
    falling = statistics.mean(distances[-5:]) < statistics.mean(distances[:5])
    print(f"\n  learning from edits ({writer}): {_curve(distances)}")
    bench_report.add(
        f"learning from edits, {DRAFTS} drafts ({writer})",
        _curve(distances).split(";")[0],
        "falls" if writer != "offline, no examples" else "control: stays",
        falling if writer != "offline, no examples" else not falling,
    )
