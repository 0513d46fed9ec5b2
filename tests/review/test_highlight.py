from review.highlight import highlight, unsupported_claims


def test_unsupported_claims_are_marked_and_the_rest_is_escaped():
    text = "Hi <b>Liu</b>, 42% more\nsince May"
    claims = [{"start": 15, "end": 18, "supported": False, "fact_ids": [], "field": "body_text"}]
    html = str(highlight(text, claims))
    assert "&lt;b&gt;Liu&lt;/b&gt;" in html
    assert '<mark class="unsupported"' in html and "42%</mark>" not in html and "42%<span" in html
    assert "<br>" in html


def test_supported_claims_name_their_facts():
    html = str(highlight("12 logins", [{"start": 0, "end": 2, "supported": True, "fact_ids": ["7"]}]))
    assert '<mark class="supported" title="Supported by fact 7">12</mark>' in html


def test_a_supported_claim_points_keyboards_and_screen_readers_at_its_fact():
    claims = [{"start": 0, "end": 2, "supported": True, "fact_ids": ["7"]}]
    html = str(highlight("12 logins", claims, facts={"7": "Logged in 12 times in October"}))
    assert html == (
        '<mark class="supported" tabindex="0" data-tip="Fact: Logged in 12 times in October" '
        'aria-describedby="fact-7">12</mark> logins'
    )


def test_an_unsupported_claim_says_why_on_focus_and_to_screen_readers():
    html = str(highlight("42% more", [{"start": 0, "end": 3, "supported": False}]))
    assert 'tabindex="0"' in html and 'data-tip="Not found in the recipient\'s facts"' in html
    assert "(unsupported claim: Not found in the recipient's facts)</span>" in html


def test_unsupported_claims_are_listed_with_their_reason():
    claims = [
        {"text": "42%", "start": 0, "end": 3, "supported": False},
        {"text": "12", "start": 5, "end": 7, "supported": True, "fact_ids": ["1"]},
    ]
    assert unsupported_claims(claims) == [
        {"text": "42%", "why": "Not found in the recipient's facts", "field": "body_text", "opinion": ""}
    ]


def test_spans_that_do_not_fit_the_text_and_other_fields_are_ignored():
    claims = [
        {"start": 5, "end": 99, "supported": False},
        {"start": 0, "end": 2, "supported": False, "field": "subject"},
    ]
    assert str(highlight("short", claims)) == "short"


def test_overlapping_claims_keep_the_first_one():
    claims = [{"start": 0, "end": 5, "supported": False}, {"start": 2, "end": 8, "supported": False}]
    assert str(highlight("abcdefgh", claims)).count("<mark") == 1


def test_a_second_opinion_is_shown_beside_the_flag_never_instead_of_it():
    claims = [
        {
            "text": "Initech signed",
            "start": 0,
            "end": 14,
            "supported": False,
            "fact_ids": [],
            "kind": "third_party_event",
            "reason": "third_party_event",
            "model_opinion": {"verdict": "supported", "fact_ids": ["f3"]},
        }
    ]
    html = str(highlight("Initech signed last week.", claims))
    assert '<mark class="unsupported"' in html
    assert "(the model cites fact f3)</small>" in html
    assert html.index("</mark>") < html.index("the model cites")
    assert unsupported_claims(claims)[0]["opinion"] == "the model cites fact f3"
