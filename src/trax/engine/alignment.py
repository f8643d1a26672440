"""Word-level comparison of a rewrite with its source: the drift guard and time alignment.

Both work on *normalised tokens* (lower case, punctuation stripped), aligned with difflib's
sequence matcher, so a rewrite that only changes casing and punctuation is "equal" everywhere.

* :func:`drift` measures how far a rewrite went: the word edit distance over the source's words,
  and the *content* words it brought in that the source does not have (stop words, the
  vocabulary, and near-spellings of the words they replace do not count: those are corrections).
* :func:`align` gives every word of the rewrite a time from the source's word timings: equal
  words keep theirs; words that replace others share the replaced span in proportion to their
  length; inserted words share the gap they sit in.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from trax.engine.result import Word

#: A replacing word this similar to a word it replaces is a spelling fix, not new content.
SIMILAR_SPELLING = 0.6
#: Function words that a punctuation or grammar fix may add without adding content (English).
_STOP = """a an the and or but nor so yet for of to in on at by with from as into onto than then
    that this these those there here it its it's is are was were be been being am do does did
    have has had i you he she we they me him her us them my your his our their not no yes if
    will would shall should can could may might must just also very too well oh um uh ah okay
    ok what which who whom whose when where why how all any some each up down out over off"""
STOP_WORDS = frozenset(_STOP.split())


def normalise(token: str) -> str:
    """Lower case without punctuation or symbols (``"Country,"`` → ``"country"``)."""
    kept = (
        c for c in token.casefold() if not unicodedata.category(c).startswith(("P", "S", "Z", "C"))
    )
    return "".join(kept)


def tokens(words: Iterable[str]) -> list[str]:
    return [normalise(w) for w in words]


@dataclass(frozen=True)
class Drift:
    """How far a rewrite is from its source."""

    edit_ratio: float
    new_words: tuple[str, ...]


def drift(source: Sequence[str], rewrite: Sequence[str], vocabulary: frozenset[str]) -> Drift:
    """Normalised word edit distance (substitutions, insertions and deletions over the source's
    word count, from the alignment) and the new content words of ``rewrite``."""
    a, b = tokens(source), tokens(rewrite)
    known = set(a) | vocabulary | STOP_WORDS | {""}
    edits, new = 0, []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        edits += max(i2 - i1, j2 - j1)
        replaced = a[max(0, i1 - 1) : i2 + 1]
        for token in b[j1:j2]:
            if token in known or _near(token, replaced):
                continue
            new.append(token)
    return Drift(round(edits / max(1, len(a)), 4), tuple(new))


def _near(token: str, candidates: Sequence[str]) -> bool:
    """A respelling (``kenedy`` → ``kennedy``) or a split/merge (``can not`` → ``cannot``)."""
    joined = "".join(candidates)
    pool = [*candidates, joined] if len(candidates) > 1 else list(candidates)
    return any(
        c and difflib.SequenceMatcher(a=token, b=c).ratio() >= SIMILAR_SPELLING for c in pool
    ) or (bool(token) and token in joined)


@dataclass(frozen=True)
class Aligned:
    """A word of the rewrite with its time, and the source word whose segment it goes to."""

    word: Word
    source_index: int


def align(
    source: Sequence[Word], rewrite: Sequence[str], start: float, end: float
) -> list[Aligned]:
    """Times for every word of ``rewrite`` from the ``source`` words' timings. ``start``/``end``
    bound the stretch (inserted words at its edges take time from there)."""
    if not source:
        return []
    a, b = tokens(w.text for w in source), tokens(rewrite)
    out: list[Aligned] = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        new = rewrite[j1:j2]
        if tag == "equal":
            for k, text in enumerate(new):
                old = source[i1 + k]
                out.append(Aligned(_word(text, old.start, old.end, old.probability), i1 + k))
        elif tag == "replace":
            span = source[i1:i2]
            prob = min(w.probability for w in span)
            out += _spread(new, span[0].start, span[-1].end, prob, range(i1, i2))
        elif tag == "insert":
            before = source[i1 - 1].end if i1 > 0 else start
            after = source[i1].start if i1 < len(source) else end
            after = max(after, before)
            owner = max(0, i1 - 1) if i1 > 0 else 0
            out += _spread(new, before, after, 0.0, range(owner, owner + 1))
    return out


def _spread(
    texts: Sequence[str], start: float, end: float, probability: float, owners: range
) -> list[Aligned]:
    """Words sharing ``start`` to ``end`` in proportion to their length (interpolated times)."""
    weights = [max(1, len(t.strip())) for t in texts]
    total, at, out = sum(weights), start, []
    for k, (text, weight) in enumerate(zip(texts, weights, strict=True)):
        stop = end if k == len(texts) - 1 else at + (end - start) * weight / total
        owner = owners[min(len(owners) - 1, k * len(owners) // max(1, len(texts)))]
        out.append(Aligned(_word(text, at, stop, probability), owner))
        at = stop
    return out


def _word(text: str, start: float, end: float, probability: float) -> Word:
    return Word(
        start=round(start, 3),
        end=round(end, 3),
        text=" " + text.strip(),
        probability=round(probability, 4),
    )
