"""Export a transcript document as JSON, plain text, SRT, WebVTT or RTTM (speaker turns).

Once a diarized stage ran, a cue never holds two speakers: a change of speaker always starts a
new cue, labelled ``<v Speaker 1>`` in WebVTT and ``[Speaker 1]`` in SRT (``speaker_labels``
turns the labels off, not the split); plain text starts a paragraph at each change of speaker.

Caption timing is worked out in whole milliseconds, so what :func:`render` writes is exactly what
:func:`build_cues` laid out: no rounding can make cues overlap or exceed ``max_cue_seconds``.

Word texts follow faster-whisper: a leading space starts a new word; a word without one is glued
to the previous word (as in Chinese or Japanese), though a line may still break between them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import pysubs2

from trax import errors
from trax.engine.result import SENTENCE_END, Segment, TranscriptDocument

CLAUSE_END = (",", ";", ":", "—", "\u2013", "\uff0c", "、", "\uff1b", "\uff1a")
_CLOSERS = "\"'\u201d\u2019»)]"
PARAGRAPH_PAUSE_SECONDS = 2.0
PARAGRAPH_CHARS = 500
#: Segments of one speaker closer than this (seconds) are one RTTM turn.
MIN_CUE_GAP = 0.5
_CLAUSE_BONUS = 0.2  # line-break cost bonuses (costs are squared line fill, 0..1 per line)
_SENTENCE_BONUS = 0.35
_MIN_FILL = 0.4  # a cue cut early for punctuation must be at least this full


class ExportFormat(StrEnum):
    """The file formats a transcript can be exported as."""

    JSON = "json"
    TXT = "txt"
    SRT = "srt"
    VTT = "vtt"
    RTTM = "rttm"


def suffix(fmt: ExportFormat) -> str:
    """The file name suffix for ``fmt``, e.g. ``".srt"``."""
    return f".{fmt.value}"


#: The limits of every caption-layout option, the same for the CLI and the API: (low, high).
LINE_CHARS = (10, 200)
LINES = (1, 10)
CUE_SECONDS = (0.5, 60.0)
MIN_CUE_SECONDS = (0.0, 60.0)
PAUSE_SECONDS = (0.0001, 10.0)
OUT_OF_RANGE = "must be between {low:g} and {high:g}, got {value!r}"
MIN_OVER_MAX = "min_cue_seconds ({low:g}) must not exceed max_cue_seconds ({high:g})"


@dataclass(frozen=True)
class CaptionStyle:
    """Caption layout limits (broadcast-style defaults). Out-of-range values raise
    :class:`~trax.errors.InvalidOptionError` (a ``ValueError``) naming the option."""

    max_line_chars: int = 42
    max_lines: int = 2
    max_cue_seconds: float = 7.0
    min_cue_seconds: float = 1.0
    pause_seconds: float = 0.6
    #: Label each cue with its speaker (when the transcript has speakers).
    speaker_labels: bool = True

    def __post_init__(self) -> None:
        bounds = {
            "max_line_chars": LINE_CHARS,
            "max_lines": LINES,
            "max_cue_seconds": CUE_SECONDS,
            "min_cue_seconds": MIN_CUE_SECONDS,
            "pause_seconds": PAUSE_SECONDS,
        }
        for name, (low, high) in bounds.items():
            value = getattr(self, name)
            if not (math.isfinite(value) and low <= value <= high):
                reason = OUT_OF_RANGE.format(low=low, high=high, value=value)
                raise errors.InvalidOptionError(name, reason)
        if self.min_cue_seconds > self.max_cue_seconds:
            reason = MIN_OVER_MAX.format(low=self.min_cue_seconds, high=self.max_cue_seconds)
            raise errors.InvalidOptionError("min_cue_seconds", reason)


@dataclass(frozen=True)
class Cue:
    """One caption: shown from ``start`` to ``end`` seconds, with one or more lines."""

    start: float
    end: float
    lines: tuple[str, ...]
    speaker: str | None = None

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass(frozen=True)
class _Tok:
    start: int  # milliseconds
    end: int
    text: str  # normalised, non-empty
    sep: str  # " " or "" (glued to the previous token)
    speaker: str | None = None


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000)) if math.isfinite(seconds) else 0


def _norm(text: str) -> str:
    return " ".join(text.split())


def _ends_with(text: str, marks: tuple[str, ...]) -> bool:
    return text.rstrip(_CLOSERS).endswith(marks)


def _segment_tokens(seg: Segment) -> list[_Tok]:
    """The tokens of one segment; without words, its text spread over its time by characters."""
    if seg.words:
        toks = [
            _Tok(
                _ms(w.start),
                _ms(w.end),
                _norm(w.text),
                " " if w.text[:1].isspace() else "",
                w.speaker or seg.speaker,
            )
            for w in seg.words
            if w.text.strip()
        ]
        return [
            _Tok(t.start, t.end, t.text, " " if i == 0 else t.sep, t.speaker)
            for i, t in enumerate(toks)
        ]
    words = _norm(seg.text).split(" ")
    start, end = _ms(seg.start), max(_ms(seg.end), _ms(seg.start))
    total, done, toks = sum(len(w) + 1 for w in words), 0, []
    for word in filter(None, words):
        a = start + (end - start) * done // total
        done += len(word) + 1
        toks.append(_Tok(a, start + (end - start) * done // total, word, " ", seg.speaker))
    return toks


def _tokens(doc: TranscriptDocument, width: int) -> list[_Tok]:
    """All tokens in order, timings made monotonic, words wider than a line hard-wrapped."""
    out: list[_Tok] = []
    for tok in (t for seg in doc.segments for t in _segment_tokens(seg)):
        start = max(tok.start, out[-1].start if out else 0)
        end = max(tok.end, start)
        pieces = [tok.text[i : i + width] for i in range(0, len(tok.text), width)]
        for i, piece in enumerate(pieces):
            a = start + (end - start) * i // len(pieces)
            b = start + (end - start) * (i + 1) // len(pieces)
            out.append(_Tok(a, b, piece, tok.sep if i == 0 else "", tok.speaker))
    return out


def _width(toks: list[_Tok], a: int, b: int) -> int:
    """Characters of tokens ``a..b-1`` set on one line."""
    return sum(len(t.sep) + len(t.text) for t in toks[a:b]) - len(toks[a].sep)


def _line_count(toks: list[_Tok], a: int, b: int, width: int) -> int:
    """How many lines greedy wrapping of tokens ``a..b-1`` takes (the minimum possible)."""
    lines, used = 1, len(toks[a].text)
    for t in toks[a + 1 : b]:
        if used + len(t.sep) + len(t.text) <= width:
            used += len(t.sep) + len(t.text)
        else:
            lines, used = lines + 1, len(t.text)
    return lines


def _gap(toks: list[_Tok], j: int) -> int:
    return toks[j + 1].start - toks[j].end


def _forced_break(toks: list[_Tok], j: int, pause: int) -> bool:
    """Whether a new cue must start after token ``j``: a pause, a sentence end and half one, or
    another speaker."""
    gap = _gap(toks, j)
    if toks[j].speaker != toks[j + 1].speaker:
        return True
    return gap >= pause or (gap * 2 >= pause and _ends_with(toks[j].text, SENTENCE_END))


def _priority(toks: list[_Tok], j: int, pause: int) -> int:
    if _ends_with(toks[j].text, SENTENCE_END):
        return 3
    if _ends_with(toks[j].text, CLAUSE_END):
        return 2
    return 1 if _gap(toks, j) * 3 >= pause else 0


def _strands(toks: list[_Tok], j: int, style: CaptionStyle, pause: int) -> bool:
    """Whether a cue ending after token ``j`` strands a few words before a sentence end or pause."""
    used = -1
    for k in range(j + 1, len(toks)):
        used += len(toks[k].text) + 1
        if used >= style.max_line_chars // 2:
            return False
        if k + 1 == len(toks) or _ends_with(toks[k].text, SENTENCE_END):
            return True
        if _forced_break(toks, k, pause):
            return True
    return False


def _best_break(toks: list[_Tok], a: int, b: int, style: CaptionStyle, max_ms: int) -> int:
    """Where to end a cue holding tokens ``a..b-1`` that cannot take token ``b`` (exclusive)."""
    capacity, pause = style.max_line_chars * style.max_lines, _ms(style.pause_seconds)
    keys = []
    for j in range(a, b):
        fill = max(_width(toks, a, j + 1) / capacity, (toks[j].end - toks[a].start) / max_ms)
        if fill >= _MIN_FILL or j == b - 1:
            priority = _priority(toks, j, pause) - 2 * _strands(toks, j, style, pause)
            keys.append((priority, j))
    return max(keys)[1] + 1


def _group(toks: list[_Tok], style: CaptionStyle) -> list[tuple[int, int]]:
    """Split the tokens into cues, as ``(first, end)`` index ranges."""
    max_ms, pause = _ms(style.max_cue_seconds), _ms(style.pause_seconds)
    groups, a = [], 0
    while a < len(toks):
        b = a + 1
        while b < len(toks) and not _forced_break(toks, b - 1, pause):
            lines = _line_count(toks, a, b + 1, style.max_line_chars)
            if lines > style.max_lines or toks[b].end - toks[a].start > max_ms:
                b = _best_break(toks, a, b, style, max_ms)
                break
            b += 1
        groups.append((a, b))
        a = b
    return groups


def _line_ranges(toks: list[_Tok], a: int, b: int, style: CaptionStyle) -> list[tuple[int, int]]:
    """Lay out tokens ``a..b-1`` in as few lines as possible, balanced, breaking at punctuation:
    each line's ``(first, end)`` token range."""
    width = style.max_line_chars
    count = _line_count(toks, a, b, width)
    pos = {a: 0}
    for i in range(a, b):
        pos[i + 1] = pos[i] + len(toks[i].sep) + len(toks[i].text)
    # best[k][i]: (cost, previous break) of setting tokens a..i-1 in k lines
    best: list[dict[int, tuple[float, int]]] = [{a: (0.0, a)}] + [{} for _ in range(count)]
    for k in range(1, count + 1):
        for i in range(a + 1, b + 1):
            for p, (cost, _) in best[k - 1].items():
                chars = pos[i] - pos[p] - len(toks[p].sep) if p < i else width + 1
                if chars > width:
                    continue
                c = cost + (chars / width) ** 2
                if i < b and _ends_with(toks[i - 1].text, SENTENCE_END):
                    c -= _SENTENCE_BONUS
                elif i < b and _ends_with(toks[i - 1].text, CLAUSE_END):
                    c -= _CLAUSE_BONUS
                if i not in best[k] or c < best[k][i][0]:
                    best[k][i] = (c, p)
    breaks, i = [], b
    for k in range(count, 0, -1):
        p = best[k][i][1]
        breaks.append((p, i))
        i = p
    return list(reversed(breaks))


@dataclass(frozen=True)
class TimedWord:
    """One word of a cue: its time (seconds), its text, the text before it on its line (``sep``:
    a space or nothing), which line of the cue it is on, and who speaks it (None: unknown)."""

    start: float
    end: float
    text: str
    sep: str
    line: int
    speaker: str | None


@dataclass(frozen=True)
class WordCue:
    """A cue with its words: what a word-by-word (karaoke) highlight needs."""

    cue: Cue
    words: tuple[TimedWord, ...]


def build_cues(doc: TranscriptDocument, style: CaptionStyle = CaptionStyle()) -> list[Cue]:
    """Lay a transcript out as captions.

    Greedy over the word timings: a cue takes words while it fits ``max_lines`` lines of
    ``max_line_chars`` and lasts at most ``max_cue_seconds``; a pause of ``pause_seconds`` (or a
    sentence end followed by half of one) always starts a new cue, and so does another speaker.
    When a cue is full it is cut at the latest sentence end, else clause punctuation, else short
    pause, that leaves it at least 40% full. Cues never overlap; short cues are stretched towards
    ``min_cue_seconds`` into the following silence. A word wider than a line is hard-wrapped so
    the line limit always holds.
    """
    return [w.cue for w in build_word_cues(doc, style)]


def build_word_cues(doc: TranscriptDocument, style: CaptionStyle = CaptionStyle()) -> list[WordCue]:
    """:func:`build_cues` with each cue's words, their lines and speakers."""
    toks = _tokens(doc, style.max_line_chars)
    groups = _group(toks, style)
    max_ms, min_ms = _ms(style.max_cue_seconds), _ms(style.min_cue_seconds)
    starts = [toks[a].start for a, _ in groups]
    ends = [min(toks[b - 1].end, starts[i] + max_ms) for i, (_, b) in enumerate(groups)]
    for i in range(len(groups)):  # clamp to the next cue, then keep every cue at least 1 ms long
        if i + 1 < len(groups):
            ends[i] = min(ends[i], starts[i + 1])
        if i > 0:
            starts[i] = max(starts[i], ends[i - 1])
        ends[i] = max(ends[i], starts[i] + 1)
    limit = [*starts[1:], max(ends[-1], _ms(doc.duration))] if groups else []
    out = []
    for (a, b), start, end, lim in zip(groups, starts, ends, limit, strict=True):
        ranges = _line_ranges(toks, a, b, style)
        lines = tuple("".join(t.sep + t.text for t in toks[p:q]).strip() for p, q in ranges)
        cue = Cue(
            start / 1000,
            max(end, min(start + min_ms, lim)) / 1000,
            lines,
            toks[a].speaker,
        )
        words = tuple(
            TimedWord(t.start / 1000, t.end / 1000, t.text, "" if k == p else t.sep, n, t.speaker)
            for n, (p, q) in enumerate(ranges)
            for k, t in ((k, toks[k]) for k in range(p, q))
        )
        out.append(WordCue(cue, words))
    return out


def _paragraphs(doc: TranscriptDocument) -> list[str]:
    """Paragraphs at long pauses after a sentence, and at every change of speaker (each speaker
    turn starts with ``Speaker 1: ``)."""
    paragraphs: list[list[str]] = []
    size, prev_end, prev_text, prev_speaker = 0, 0.0, "", None
    for seg in doc.segments:
        text = _norm(seg.text)
        if not text:
            continue
        at_sentence = _ends_with(prev_text, SENTENCE_END)
        long_pause = seg.start - prev_end >= PARAGRAPH_PAUSE_SECONDS
        new_turn = seg.speaker != prev_speaker
        if not paragraphs or new_turn or (at_sentence and (long_pause or size >= PARAGRAPH_CHARS)):
            paragraphs.append([f"{seg.speaker}:"] if new_turn and seg.speaker else [])
            size = 0
        paragraphs[-1].append(text)
        size += len(text) + 1
        prev_end, prev_text, prev_speaker = seg.end, text, seg.speaker
    return [" ".join(p) for p in paragraphs]


def _rttm_name(name: str) -> str:
    """RTTM fields are separated by spaces: a speaker name's spaces become underscores."""
    return "_".join(name.split()) or "unknown"


def rttm(doc: TranscriptDocument, uri: str = "transcript") -> str:
    """Speaker turns as RTTM lines: consecutive segments of one speaker joined into one turn
    (segments without a speaker are left out)."""
    turns: list[list[Any]] = []
    for seg in doc.segments:
        if seg.speaker is None or not seg.text.strip():
            continue
        if turns and turns[-1][2] == seg.speaker and seg.start - turns[-1][1] < MIN_CUE_GAP:
            turns[-1][1] = max(turns[-1][1], seg.end)
        else:
            turns.append([seg.start, seg.end, seg.speaker])
    uri = _rttm_name(uri)
    return "".join(
        f"SPEAKER {uri} 1 {s:.3f} {max(e - s, 0.0):.3f} <NA> <NA> {_rttm_name(w)} <NA> <NA>\n"
        for s, e, w in turns
    )


def _vtt_escape(line: str) -> str:
    """WebVTT cue text must escape these; pysubs2 does not."""
    return line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _labelled(cue: Cue, fmt: ExportFormat, labels: bool) -> list[str]:
    """The cue's lines, escaped for WebVTT, the first one prefixed with its speaker."""
    vtt = fmt is ExportFormat.VTT
    lines = [_vtt_escape(ln) for ln in cue.lines] if vtt else list(cue.lines)
    if labels and cue.speaker and lines:
        name = _vtt_escape(cue.speaker) if vtt else cue.speaker
        lines[0] = f"<v {name}>{lines[0]}" if vtt else f"[{name}] {lines[0]}"
    return lines


def _subtitles(cues: list[Cue], fmt: ExportFormat, labels: bool = True) -> str:
    """Write cues with pysubs2, working around its SubStation-oriented text handling."""
    subs = pysubs2.SSAFile()
    for cue in cues:
        lines = _labelled(cue, fmt, labels)
        # pysubs2 reads "\N", "\n", "\h" and "{\p1}" as SubStation codes: break them with U+2060.
        text = r"\N".join(ln.replace("\\", "\\\u2060") for ln in lines)
        subs.events.append(pysubs2.SSAEvent(start=_ms(cue.start), end=_ms(cue.end), text=text))
    # keep_ssa_tags: otherwise pysubs2 drops anything in {braces} as an override tag
    return subs.to_string(fmt.value, keep_ssa_tags=True)


def render(doc: TranscriptDocument, fmt: ExportFormat, style: CaptionStyle = CaptionStyle()) -> str:
    """The contents of ``doc`` exported as a ``fmt`` file."""
    if fmt is ExportFormat.JSON:
        return doc.to_json()
    if fmt is ExportFormat.TXT:
        paragraphs = _paragraphs(doc)
        return "\n\n".join(paragraphs) + "\n" if paragraphs else ""
    if fmt is ExportFormat.RTTM:
        return rttm(doc)
    return _subtitles(build_cues(doc, style), fmt, style.speaker_labels)
