"""Word-level inline diffs of a reviewer's edit, as escaped HTML with <del> and <ins>."""

from __future__ import annotations

import difflib
import re

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# Words and the whitespace between them are separate tokens, so a diff keeps line breaks intact.
_TOKENS = re.compile(r"\s+|[^\s]+")


def _tokens(text: str) -> list[str]:
    return _TOKENS.findall(text)


def word_diff_html(before: str, after: str) -> SafeString:
    """before → after, word by word: unchanged text plain, removed in <del>, added in <ins>.

    Every piece of text is escaped before it is wrapped, so a draft containing markup (or a
    <script>) renders as text.
    """
    a, b = _tokens(before), _tokens(after)
    out: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        removed, added = "".join(a[i1:i2]), "".join(b[j1:j2])
        if op == "equal":
            out.append(escape(removed))
            continue
        if removed:
            out.append(f"<del>{escape(removed)}</del>")
        if added:
            out.append(f"<ins>{escape(added)}</ins>")
    return mark_safe("".join(out))  # every fragment above is escaped
