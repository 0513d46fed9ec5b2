from review.textdiff import word_diff_html


def test_unchanged_text_has_no_markup():
    assert word_diff_html("Hello there", "Hello there") == "Hello there"


def test_a_replaced_word_is_deleted_then_inserted():
    assert word_diff_html("Hello there friend", "Hello dear friend") == "Hello <del>there</del><ins>dear</ins> friend"


def test_line_breaks_survive_the_diff():
    assert word_diff_html("a\nb", "a\nc") == "a\n<del>b</del><ins>c</ins>"


def test_markup_inside_changes_and_unchanged_text_is_escaped():
    html = word_diff_html("<i>x</i> <script>", "<i>x</i> & more")
    assert html.startswith("&lt;i&gt;x&lt;/i&gt; ")
    assert "<del>&lt;script&gt;</del>" in html
    assert "<ins>&amp; more</ins>" in html
