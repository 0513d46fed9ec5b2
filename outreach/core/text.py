"""Characters that hide or reorder text for a human reader: one definition for the whole app.

Removed: control characters (C0/C1, except newline and tab where a text has lines), format
characters (zero-width space, word joiner, soft hyphen, BOM, bidi embeddings, overrides and
isolates such as U+202E, the Unicode tag block U+E0000-U+E007F used to smuggle invisible text),
private-use, surrogate and unassigned code points. A reviewer must see the text the recipient and
the model get, and "Acme" must not have an invisible twin.

Kept, because they change what is shown rather than hide anything:
- the zero-width joiner U+200D between two pictographs (or after a skin tone or U+FE0F), as in
  the emoji sequences 👩🏽‍💻 and 🏳️‍🌈;
- U+200C and U+200D between two letters of scripts whose letters join or form conjuncts
  (Hebrew to Myanmar, Khmer, Mongolian, Arabic presentation forms...): Persian needs U+200C in
  ordinary words, Indic scripts use both.
Between Latin letters, at the ends of a word or anywhere else they are invisible, so they go.
Subdivision flags (🏴 + tag characters) lose their tags: invisible smuggling weighs more.

Pure Python, no Django: the drafting engine uses it too.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

ZWNJ, ZWJ = "\u200c", "\u200d"
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn"})
# Scripts where U+200C/U+200D between letters change the rendering.
_JOINING_SCRIPTS = ((0x0590, 0x10FF), (0x1780, 0x18AF), (0xA840, 0xABFF), (0xFB1D, 0xFDFF), (0xFE70, 0xFEFC))
_EMOJI_BEFORE_JOINER = {"\ufe0f"}  # VS16, "show as emoji"
_LINE_BREAKS = ("\r\n", "\r", "\n", "\x0b", "\x0c", "\x85", "\u2028", "\u2029")


def _is_hidden(ch: str) -> bool:
    return unicodedata.category(ch) in _HIDDEN_CATEGORIES


def _joining_letter(ch: str) -> bool:
    if not ch or unicodedata.category(ch)[0] not in "LM":
        return False
    code = ord(ch)
    return any(low <= code <= high for low, high in _JOINING_SCRIPTS)


def _pictograph(ch: str) -> bool:
    # So: emoji and other pictographic symbols; Sk: the skin-tone modifiers U+1F3FB-U+1F3FF.
    return bool(ch) and unicodedata.category(ch) in {"So", "Sk"}


def _joiner_shows(before: str, joiner: str, after: str) -> bool:
    if _joining_letter(before) and _joining_letter(after):
        return True
    return joiner == ZWJ and (_pictograph(before) or before in _EMOJI_BEFORE_JOINER) and _pictograph(after)


def strip_hidden(text: str, *, keep: str = "\n\t") -> str:
    """`text` without the characters that hide or reorder text (see the module); the control
    characters in `keep` (newline and tab by default) stay."""
    if text.isascii() and text.isprintable():
        return text  # the common case, answered without looking at each character
    out: list[str] = []
    for index, ch in enumerate(text):
        if ch in keep or not _is_hidden(ch):
            out.append(ch)
        elif ch in (ZWNJ, ZWJ):
            before = out[-1] if out else ""
            after = next((c for c in text[index + 1 :] if c not in (ZWNJ, ZWJ)), "")
            if _joiner_shows(before, ch, after):
                out.append(ch)
    return "".join(out)


def clean_display_text(value: str | None, *, multiline: bool = False) -> str:
    """Person-facing text as it is stored: hidden characters removed.

    One line (names, titles, labels): line breaks and tabs become spaces and the ends are
    trimmed. Multi-line (a signature, a fact): line breaks become "\\n", tabs stay.
    """
    text = value or ""
    if multiline:
        for brk in _LINE_BREAKS:
            text = text.replace(brk, "\n")
        return strip_hidden(text)
    for brk in (*_LINE_BREAKS, "\t"):
        text = text.replace(brk, " ")
    return strip_hidden(text, keep="").strip()


def clean_display_fields(instance: object, lines: Iterable[str] = (), blocks: Iterable[str] = ()) -> None:
    """Clean a model instance's person-facing fields in place: `lines` are one-line fields,
    `blocks` multi-line ones. Models call this from save() and clean()."""
    for name in lines:
        setattr(instance, name, clean_display_text(getattr(instance, name), multiline=False))
    for name in blocks:
        setattr(instance, name, clean_display_text(getattr(instance, name), multiline=True))
