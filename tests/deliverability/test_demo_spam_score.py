"""The demo campaigns' emails, built exactly as they would be sent, score at most 0.5 with
SpamAssassin's local rules (a real spamd; no network tests). Run with -s to see each score."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from outreach.drafting import OfflineProvider
from outreach.mail import selectors as mail_selectors
from review.models import Draft
from review.services import draft_generate

pytestmark = pytest.mark.django_db

TARGET = 0.5


def test_every_demo_campaign_email_scores_at_most_half_a_point(spamd, capsys):
    call_command("seed_demo")
    call_command("seed_demo_campaigns")
    call_command("run_milestone_scan")
    call_command("seed_review_demo")
    for pk in Draft.objects.filter(state=Draft.State.QUEUED).values_list("pk", flat=True):
        draft_generate(draft_id=pk, provider=OfflineProvider())
    drafts = list(Draft.objects.filter(state=Draft.State.READY).select_related("recipient", "sender__sender"))
    assert len(drafts) >= 10
    scores = []
    for draft in drafts:
        risk = mail_selectors.email_spam_risk(
            recipient=draft.recipient,
            sender=draft.sender,
            subject=draft.subject,
            body_html=draft.body_html,
            body_text=draft.body_text,
        )
        assert risk.spamd is not None, risk.spamd_note
        fired = ", ".join(f"{r.name} {r.points:g}" for r in risk.spamd.rules if r.points)
        scores.append((risk.spamd.score, draft.subject, fired))
    with capsys.disabled():
        print(f"\nSpamAssassin (local rules) over {len(scores)} demo emails:")
        for score, subject, fired in sorted(scores, reverse=True):
            print(f"  {score:5.1f}  {subject[:60]:60}  {fired or '-'}")
        print(f"  max {max(s for s, _, _ in scores):.1f}, mean {sum(s for s, _, _ in scores) / len(scores):.2f}")
    over = [(score, subject, fired) for score, subject, fired in scores if score > TARGET]
    assert not over, over
