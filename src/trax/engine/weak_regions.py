"""The weak-region finder: where a transcript's own words and scores say its decode is unsure.

Shared by the first pass (``engine.asr``: greedy batched decoding, then beam only in weak
regions, ADR 0020) and the multipass stage (``engine.multipass``: a sequential re-decode, ADR
0013). Rules and thresholds are in ADR 0013; changing one changes ``multipass.RULES_VERSION``.
"""

from __future__ import annotations

import itertools
import re
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from trax.engine.result import Segment, Word

#: A segment whose mean word probability is below this is weak.
LOW_WORD_PROBABILITY = 0.6
#: With a re-decode model other than the parent's (a larger one), a segment with a word below
#: this is weak too: most first-pass errors in noise sit in segments with one very unsure word,
#: while their mean stays above ``LOW_WORD_PROBABILITY`` (bench/README.md).
UNSURE_WORD_PROBABILITY = 0.2

#: Whisper's own limit: text that compresses better than this is repetitive.
MAX_COMPRESSION_RATIO = 2.4
#: A run of this many back-to-back copies of one 1- to 10-word phrase is a loop ("That will not
#: tell you." eighteen times is one).
LOOP_COPIES = 4
LOOP_MAX_NGRAM = 10
#: A segment with a no-speech probability above this and fewer words per second is weak.
NO_SPEECH_PROB = 0.5
FEW_WORDS_PER_SECOND = 1.5

#: Weak segments closer than this are one region (with any segments between them: a decode costs
#: an encoder pass, and more context helps); a region is at most Whisper's input length.
MERGE_GAP = 5.0
MAX_REGION = 30.0
#: Audio taken around a region's words, never reaching into a neighbouring segment.
PAD = 0.5

LOW_PROBABILITY, REPETITION = "low_probability", "repetition"
NO_SPEECH, LANGUAGE = "no_speech", "language"


@dataclass(frozen=True)
class WeakRegion:
    """A stretch of weak segments and why they are weak."""

    first: int  # index of the first parent segment
    last: int  # index of the last (inclusive)
    reasons: frozenset[str]
    start: float  # audio taken (seconds)
    end: float


def text_reasons(segments: Sequence[Segment], other_model: bool) -> list[set[str]]:
    """Per segment, the rules its own words and scores break."""
    reasons: list[set[str]] = [set() for _ in segments]
    for i, seg in enumerate(segments):
        score = mean_probability(seg.words)
        unsure_word = any(w.probability < UNSURE_WORD_PROBABILITY for w in seg.words)
        if (score is not None and score < LOW_WORD_PROBABILITY) or (other_model and unsure_word):
            reasons[i].add(LOW_PROBABILITY)
        if compression_ratio(seg.text) > MAX_COMPRESSION_RATIO:
            reasons[i].add(REPETITION)
        seconds = max(seg.end - seg.start, 0.1)
        if seg.no_speech_prob > NO_SPEECH_PROB and len(seg.words) / seconds < FEW_WORDS_PER_SECOND:
            reasons[i].add(NO_SPEECH)
    # A loop often spans many short segments ("Hello." fifteen times): look across them.
    owners = [i for i, seg in enumerate(segments) for _ in seg.words]
    for first, last in loop_spans([w.text for s in segments for w in s.words]):
        for i in set(owners[first:last]):
            reasons[i].add(REPETITION)
    return reasons


def weak_regions(
    segments: Sequence[Segment], reasons: list[set[str]], duration: float, origin: float = 0.0
) -> list[WeakRegion]:
    """Weak segments merged into regions, each padded into the silence around it, within the
    audio from ``origin`` to ``duration`` (seconds)."""
    groups: list[list[int]] = []
    for i, why in enumerate(reasons):
        if not why:
            continue
        if groups:
            head, tail = segments[groups[-1][0]], segments[groups[-1][-1]]
            near = segments[i].start - tail.end <= MERGE_GAP
            if near and segments[i].end - head.start <= MAX_REGION:
                groups[-1].extend(range(groups[-1][-1] + 1, i + 1))
                continue
        groups.append([i])
    weak: list[WeakRegion] = []
    for group in groups:
        first, last = group[0], group[-1]
        before = segments[first - 1].end if first > 0 else origin
        after = segments[last + 1].start if last + 1 < len(segments) else duration
        if weak and weak[-1].last == first - 1:
            before = max(before, weak[-1].end)
        start = round(max(segments[first].start - PAD, before, origin), 3)
        end = round(min(segments[last].end + PAD, max(after, segments[last].end), duration), 3)
        because = frozenset(itertools.chain.from_iterable(reasons[i] for i in group))
        weak.append(WeakRegion(first, last, because, start, max(end, start)))
    return weak


def mean_probability(words: Sequence[Word]) -> float | None:
    """The mean probability of ``words``; ``None`` without words."""
    return sum(w.probability for w in words) / len(words) if words else None


def score(words: Iterator[Word] | Sequence[Word]) -> float | None:
    """A region's score: its mean word probability, 0 if its words loop or compress like a loop
    (Whisper's ratio); ``None`` if no words.

    Rounded to 4 places, as all probabilities in a document.
    """
    listed = list(words)
    if not listed:
        return None
    text = "".join(w.text for w in listed)
    if loop_spans([w.text for w in listed]) or compression_ratio(text) > MAX_COMPRESSION_RATIO:
        return 0.0
    return round(sum(w.probability for w in listed) / len(listed), 4)


def compression_ratio(text: str) -> float:
    """Whisper's repetition measure: UTF-8 length over zlib-compressed length."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


_NON_WORD = re.compile(r"[^\w']+")


def loop_spans(words: Sequence[str]) -> list[tuple[int, int]]:
    """Spans ``(first, end)`` of word indices where a 1- to 10-word phrase repeats back to back
    at least ``LOOP_COPIES`` times (case and punctuation ignored)."""
    norm = [_NON_WORD.sub("", w.lower()) for w in words]
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(norm):
        found = 0
        for n in range(1, LOOP_MAX_NGRAM + 1):
            unit = norm[i : i + n]
            if len(unit) < n or not any(unit):
                break
            copies = 1
            while norm[i + copies * n : i + (copies + 1) * n] == unit:
                copies += 1
            if copies >= LOOP_COPIES:
                found = copies * n
                break
        if found:
            spans.append((i, i + found))
            i += found
        else:
            i += 1
    return spans
