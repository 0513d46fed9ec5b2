from review.textdiff import word_diff, word_diff_html

DEL = '<del><span class="visually-hidden">removed: </span>{}</del>'
INS = '<ins><span class="visually-hidden">added: </span>{}</ins>'


def test_unchanged_text_has_no_markup():
    assert word_diff_html("Hello there", "Hello there") == "Hello there"
    assert not word_diff("Hello there", "Hello there").changed


def test_a_replaced_word_is_deleted_then_inserted():
    expected = f"Hello {DEL.format('there')}{INS.format('dear')} friend"
    assert word_diff_html("Hello there friend", "Hello dear friend") == expected


def test_screen_readers_hear_what_was_removed_and_added():
    html = word_diff_html("Hi team", "Hi all")
    assert '<span class="visually-hidden">removed: </span>team' in html
    assert '<span class="visually-hidden">added: </span>all' in html


def test_it_counts_the_words_added_and_removed():
    diff = word_diff("Hi team, the call is on Monday.", "Hi team, the call is Tuesday at noon.")
    assert (diff.added, diff.removed) == (3, 2)


def test_line_breaks_survive_the_diff():
    assert word_diff_html("a\nb", "a\nc") == f"a\n{DEL.format('b')}{INS.format('c')}"


def test_markup_inside_changes_and_unchanged_text_is_escaped():
    html = word_diff_html("<i>x</i> <script>", "<i>x</i> & more")
    assert html.startswith("&lt;i&gt;x&lt;/i&gt; ")
    assert DEL.format("&lt;script&gt;") in html
    assert INS.format("&amp; more") in html
