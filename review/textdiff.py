"""Word-level inline diffs (a reviewer's edit, a regenerated version), as escaped HTML with <del>
and <ins>. Screen readers do not announce <del>/<ins> by themselves, so each change carries a
visually hidden "removed:" or "added:" that they read out."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# Words and the whitespace between them are separate tokens, so a diff keeps line breaks intact.
_TOKENS = re.compile(r"\s+|[^\s]+")

_REMOVED = '<del><span class="visually-hidden">removed: </span>{}</del>'
_ADDED = '<ins><span class="visually-hidden">added: </span>{}</ins>'


def _tokens(text: str) -> list[str]:
    return _TOKENS.findall(text)


def _words(tokens: list[str]) -> int:
    return sum(1 for t in tokens if not t.isspace())


@dataclass(frozen=True)
class WordDiff:
    html: SafeString
    added: int  # words
    removed: int

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)

    def __str__(self) -> str:
        return self.html


def word_diff(before: str, after: str) -> WordDiff:
    """before → after, word by word: unchanged text plain, removed in <del>, added in <ins>, with
    how many words each side changed.

    Every piece of text is escaped before it is wrapped, so a draft containing markup (or a
    <script>) renders as text.
    """
    a, b = _tokens(before), _tokens(after)
    out: list[str] = []
    added = removed = 0
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        old, new = "".join(a[i1:i2]), "".join(b[j1:j2])
        if op == "equal":
            out.append(escape(old))
            continue
        if old:
            out.append(_REMOVED.format(escape(old)))
            removed += _words(a[i1:i2])
        if new:
            out.append(_ADDED.format(escape(new)))
            added += _words(b[j1:j2])
    return WordDiff(html=mark_safe("".join(out)), added=added, removed=removed)  # every fragment is escaped


def word_diff_html(before: str, after: str) -> SafeString:
    return word_diff(before, after).html
