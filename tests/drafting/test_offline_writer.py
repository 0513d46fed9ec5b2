"""The offline drafter writes like a person from the facts, follows simple instructions and the
step prompt, learns from reviewers' edits, and stays deterministic and grounded."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from outreach.drafting import EditExample, Intent, OfflineProvider, compose
from outreach.drafting.offline import fact_sentence, learn, parse_ask

from .conftest import make_request

FACTS = [
    {"id": "n", "kind": "first_name", "text": "Liu", "value": "Liu"},
    {"id": "a", "kind": "usage", "text": "Logged in 14 times in October", "observed_at": "2026-11-01"},
    {"id": "b", "kind": "content", "text": "Attended the webinar 'Forecasting 101'", "observed_at": "2026-10-28"},
    {"id": "c", "kind": "support_ticket", "text": "Asked how to add SSO users", "observed_at": "2026-10-20"},
]


def draft(**overrides):
    return compose(make_request(facts=FACTS, **overrides), OfflineProvider())


@pytest.mark.parametrize(
    ("fact", "sentence"),
    [
        ("Logged in 14 times in October", "I saw you logged in 14 times in October."),
        ("Signed up 2026-10-05", "I saw you signed up 5 October 2026."),
        ("Plan: Starter", "You are on the Starter plan."),
        ("Contract renews on 2026-12-20", "Your contract renews on 20 December 2026."),
        (
            "Has not connected a data source yet (onboarding step 2)",
            "It looks like you have not connected a data source yet (onboarding step 2).",
        ),
        ("Read the release notes for Scheduled Reports", "I saw you read the release notes for Scheduled Reports."),
    ],
)
def test_facts_become_full_sentences(fact, sentence):
    assert fact_sentence({"kind": "note", "text": fact}) == sentence


def test_the_draft_reads_like_a_person_wrote_it_and_is_fully_supported():
    result = draft()
    assert "From our records" not in result.body_text
    assert "I saw you logged in 14 times in October. You also attended the webinar" in result.body_text
    assert result.unsupported_count == 0, [c for c in result.claims if not c["supported"]]


def test_shorter_keeps_one_fact_and_mention_puts_that_fact_first():
    short = draft(instruction="Shorter please, and mention the SSO question")
    assert "SSO" in short.body_text and "logged in" not in short.body_text
    assert len(short.body_text.split()) < len(draft().body_text.split())
    assert short.unsupported_count == 0


def test_dont_mention_leaves_the_fact_out():
    assert "webinar" not in draft(instruction="don't mention the webinar").body_text


def test_the_opening_changes_when_asked_and_formal_says_dear():
    assert draft().body_text.split("\n\n")[1].startswith("I saw you")
    assert draft(instruction="change the opening").body_text.split("\n\n")[1].startswith("I hope you are well.")
    formal = draft(instruction="more formal")
    assert formal.body_text.startswith("Dear Liu,") and "Best regards," in formal.body_text


def test_the_step_prompt_is_followed_like_an_instruction():
    intent = Intent(
        goal="Book renewal conversations\nThis email: a short nudge that mentions the webinar",
        key_message="Your renewal includes forecasting",
        call_to_action="Reply to pick a time",
    )
    result = draft(intent=intent)
    assert "webinar" in result.body_text and "logged in" not in result.body_text


def test_a_long_key_message_makes_a_subject_without_an_ellipsis():
    long = (
        "The forecasting module, which your team asked about twice this quarter, is now included in every "
        "renewal at no extra cost for existing customers"
    )
    result = draft(intent=Intent(goal="Renewals", key_message=long, call_to_action="Reply to talk"))
    assert "…" not in result.subject and len(result.subject) <= 78
    assert result.subject == "The forecasting module"


def test_it_is_deterministic_with_instructions_and_examples():
    examples = [EditExample("Hi Liu,\n\nI hope you are well. Thanks.", "Hello Liu,\n\nThanks.")]
    assert draft(instruction="shorter", edit_examples=examples) == draft(instruction="shorter", edit_examples=examples)


def test_it_learns_greeting_deleted_sentences_phrases_and_length_from_edits():
    first = draft()
    edited = first.body_text.replace("Hi Liu,", "Hello Liu,").replace(" at no extra cost", "")
    edited = re.sub(r" You also [^.]*\.", "", edited)
    taught = learn([EditExample(first.body_text, edited)])
    assert taught.greeting == "Hello" and taught.shorter and taught.phrases == ("at no extra cost",)
    again = draft(edit_examples=[EditExample(first.body_text, edited)])
    assert again.body_text == edited
    assert again.unsupported_count == 0


def test_instructions_are_read_simply():
    ask = parse_ask("a short nudge", "mention the webinar but don't mention pricing")
    assert ask.shorter and ask.mention == ("webinar",) and ask.avoid == ("pricing",)


def test_facts_that_would_be_withheld_are_never_written():
    facts = [
        *FACTS,
        {
            "id": "p",
            "kind": "note",
            "text": "Quoted 4,800 EUR per year",
            "trust": "untrusted",
            "observed_at": "2026-11-05",
        },
    ]
    result = compose(make_request(facts=facts), OfflineProvider())
    assert "4,800" not in result.body_text and not result.withheld
    trusted = replace(
        make_request(facts=FACTS),
        facts=[*FACTS, {"id": "p", "kind": "note", "text": "Quoted 4,800 EUR", "observed_at": "2026-11-05"}],
    )
    assert "4,800" in compose(trusted, OfflineProvider()).body_text
