"""How much a reviewer changed a draft: pure functions over text, computed with rapidfuzz.

The numbers are the signal for tuning prompts: a falling edit distance means drafts get closer
to what people actually send.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rapidfuzz.distance import Levenshtein

_WORD_RE = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def words(text: str) -> list[str]:
    """Words and punctuation marks as tokens, so "Hi," -> ["Hi", ","]."""
    return _WORD_RE.findall(text)


def _joined(subject: str, body: str) -> str:
    return f"{subject}\n\n{body}"


@dataclass(frozen=True)
class EditMetrics:
    char_distance: int
    normalized_similarity: float  # 0..1, 1 = unchanged
    word_distance: int
    changed_parts: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.changed_parts)


def edit_metrics(
    *,
    subject_before: str,
    subject_after: str,
    body_before: str,
    body_after: str,
    cc_changed: bool = False,
    bcc_changed: bool = False,
    preview_changed: bool = False,
) -> EditMetrics:
    """Character Levenshtein distance and normalized similarity over subject + body, word-level
    Levenshtein distance over their token lists, and which parts changed (the preview text, CC and
    BCC count as changed parts but not in the distances, which measure the email's text)."""
    before, after = _joined(subject_before, body_before), _joined(subject_after, body_after)
    parts = []
    if subject_before != subject_after:
        parts.append("subject")
    if preview_changed:
        parts.append("preview_text")
    if body_before != body_after:
        parts.append("body")
    if cc_changed:
        parts.append("cc")
    if bcc_changed:
        parts.append("bcc")
    return EditMetrics(
        char_distance=Levenshtein.distance(before, after),
        normalized_similarity=round(Levenshtein.normalized_similarity(before, after), 4),
        word_distance=Levenshtein.distance(words(before), words(after)),
        changed_parts=parts,
    )
