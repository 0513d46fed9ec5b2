from review.highlight import highlight


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


def test_spans_that_do_not_fit_the_text_and_other_fields_are_ignored():
    claims = [
        {"start": 5, "end": 99, "supported": False},
        {"start": 0, "end": 2, "supported": False, "field": "subject"},
    ]
    assert str(highlight("short", claims)) == "short"


def test_overlapping_claims_keep_the_first_one():
    claims = [{"start": 0, "end": 5, "supported": False}, {"start": 2, "end": 8, "supported": False}]
    assert str(highlight("abcdefgh", claims)).count("<mark") == 1
