"""Word-level differences between two versions of a transcript.

Words are compared by their normalised text (case and punctuation ignored), so a stage that only
changed "hello," into "Hello." shows no change; each change keeps the words as written and their
times, and names the re-decoded region (and why) it falls in when the newer version has one.
"""

from __future__ import annotations

import difflib
import unicodedata
from typing import Literal

from pydantic import BaseModel, ConfigDict

from trax.engine.result import Region, TranscriptDocument, Word


class Change(BaseModel):
    """Words of version ``a`` replaced by, or removed for, or added as words of version ``b``."""

    model_config = ConfigDict(frozen=True)

    op: Literal["replace", "delete", "insert"]
    start: float
    end: float
    old: str
    new: str
    reasons: tuple[str, ...] = ()


class VersionDiff(BaseModel):
    model_config = ConfigDict(frozen=True)

    transcript_id: str
    a: int
    b: int
    words_a: int
    words_b: int
    unchanged: int
    changes: list[Change]


def _key(word: Word) -> str:
    text = unicodedata.normalize("NFKC", word.text).casefold()
    return "".join(c for c in text if c.isalnum())


def _text(words: list[Word]) -> str:
    return "".join(w.text for w in words).strip()


def _reasons(regions: tuple[Region, ...], start: float, end: float) -> tuple[str, ...]:
    found: list[str] = []
    for region in regions:
        if (region.start < end and start < region.end) or region.start <= start <= region.end:
            found += [region.action, *region.reasons]
    return tuple(dict.fromkeys(found))


def diff(
    transcript_id: str, a: int, doc_a: TranscriptDocument, b: int, doc_b: TranscriptDocument
) -> VersionDiff:
    """What changed, word by word, from version ``a`` to version ``b``."""
    words_a, words_b = doc_a.words, doc_b.words
    matcher = difflib.SequenceMatcher(
        None, [_key(w) for w in words_a], [_key(w) for w in words_b], autojunk=False
    )
    changes: list[Change] = []
    unchanged = 0
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            unchanged += i2 - i1
            continue
        old, new = words_a[i1:i2], words_b[j1:j2]
        timed = old + new
        start, end = min(w.start for w in timed), max(w.end for w in timed)
        changes.append(
            Change(
                op=op,
                start=start,
                end=end,
                old=_text(old),
                new=_text(new),
                reasons=_reasons(doc_b.regions, start, end),
            )
        )
    return VersionDiff(
        transcript_id=transcript_id,
        a=a,
        b=b,
        words_a=len(words_a),
        words_b=len(words_b),
        unchanged=unchanged,
        changes=changes,
    )
