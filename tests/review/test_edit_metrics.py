from review.edit_metrics import edit_metrics, words


def test_an_unchanged_draft_has_zero_distance_and_full_similarity():
    m = edit_metrics(subject_before="Hi", subject_after="Hi", body_before="Body text", body_after="Body text")
    assert (m.char_distance, m.word_distance, m.normalized_similarity, m.changed_parts) == (0, 0, 1.0, [])
    assert not m.changed


def test_character_distance_counts_single_edits():
    m = edit_metrics(subject_before="Hi", subject_after="Hi", body_before="kitten", body_after="sitting")
    assert m.char_distance == 3
    assert m.changed_parts == ["body"]
    assert 0 < m.normalized_similarity < 1


def test_word_distance_counts_whole_words_not_letters():
    m = edit_metrics(
        subject_before="s", subject_after="s", body_before="We can meet next week", body_after="We can talk next month"
    )
    assert m.word_distance == 2
    assert m.char_distance > 2


def test_it_names_every_part_that_changed():
    m = edit_metrics(
        subject_before="a", subject_after="b", body_before="x", body_after="x", cc_changed=True, bcc_changed=True
    )
    assert m.changed_parts == ["subject", "cc", "bcc"]


def test_punctuation_is_its_own_token():
    assert words("Hi Liu, thanks!") == ["Hi", "Liu", ",", "thanks", "!"]
