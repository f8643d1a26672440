"""Multi-pass refinement: find the weak regions of a first-pass transcript and decode them again.

The first pass (stage ``basic``) is faster-whisper's batched decoding: fast, but with no
temperature fallback and no hallucination checks. :func:`refine` reads its words and scores,
marks weak regions (rules below, thresholds in ADR 0013), decodes only their audio again
sequentially (larger beam, neighbouring text as prompt, language detected per region) and keeps,
per region, whichever transcript scores better, or drops the region's words when the re-decode
says it is not speech. Everything else is copied from the parent unchanged.

Decoding is deterministic: temperature sampling is replaced by a fixed ladder of greedy-beam
decodes (CTranslate2 seeds its sampler once per worker thread, so a seed set here would not make
a long-lived process reproducible).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from trax.engine.asr import Transcriber, convert_segments, engine_versions
from trax.engine.audio import SAMPLE_RATE, AudioArray, MediaProbe, decode_ranges
from trax.engine.result import Provenance, Region, Segment, TranscriptDocument
from trax.engine.weak_regions import (
    LANGUAGE,
    MAX_COMPRESSION_RATIO,
    MAX_REGION,
    WeakRegion,
    compression_ratio,
    loop_spans,
    mean_probability,
    score,
    text_reasons,
    weak_regions,
)

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

#: Changes whenever a rule or threshold below or in ``weak_regions`` changes: part of the recipe in
#: the provenance.
RULES_VERSION = 2
#: A re-decode by the parent's model replaces the first pass only when its score is higher by this
#: much (smaller differences are noise: on the bench they made WER worse as often as better); one
#: by another model replaces it unless it scores lower by more than this.
REPLACE_MARGIN = 0.05
#: Segments with a mean word probability under this get their language checked (multilingual
#: models); a detected language other than the document's with this probability makes them weak.
#: A language detected with a probability under ``NOT_SPEECH_LANGUAGE_PROBABILITY`` makes them weak
#: too (no language fits: perhaps not speech).
DOUBTFUL_WORD_PROBABILITY = 0.85
LANGUAGE_PROBABILITY = 0.5
#: The re-decode drops a region as not speech when Whisper's no-speech rule removed every word, or
#: when the region is at least ``UNSURE_MIN_SECONDS`` long, its detected language is this unsure
#: (Whisper is confident about the language of real speech, even noisy, given a few seconds) and
#: its words score below ``UNSURE_SPEECH_SCORE``.
NOT_SPEECH_LANGUAGE_PROBABILITY = 0.5
UNSURE_SPEECH_SCORE = 0.7
UNSURE_MIN_SECONDS = 2.5
#: Words of context given as the prompt of a re-decode.
PROMPT_WORDS = 40
#: Whisper's no-speech and log-probability rules for a sequential segment.
_NO_SPEECH_THRESHOLD = 0.6
_LOG_PROB_THRESHOLD = -1.0
_BEFORE_DONE = 0.99
#: Less audio than this (samples) is not decoded again.
MIN_AUDIO = SAMPLE_RATE // 5

REPLACED, KEPT, DROPPED = "replaced", "kept", "dropped"

ProgressFn = Callable[[float], None]


@dataclass(frozen=True)
class MultipassOptions:
    """How weak regions are decoded again; part of the multipass transcript's recipe."""

    #: Model for re-decoding; ``None`` = the parent's model.
    model: str | None = None
    beam_size: int = 8
    #: Words or names to favour (the project's vocabulary); ``None`` = the parent's hotwords.
    hotwords: str | None = None
    #: Remove the words of regions the re-decode finds are not speech (laughter, music, noise).
    drop_non_speech: bool = True

    def as_dict(self) -> dict[str, str | int | float | bool | None]:
        return dict(asdict(self))


@dataclass(frozen=True)
class _Decoded:
    segments: tuple[Segment, ...]
    score: float | None
    language: str
    language_probability: float


def refine(
    transcriber: Transcriber,
    media: MediaProbe,
    parent: TranscriptDocument,
    options: MultipassOptions,
    progress: ProgressFn | None = None,
) -> TranscriptDocument:
    """Decode the weak regions of ``parent`` (a stage-``basic`` transcript of ``media``) again.

    Returns a stage-``multipass`` document: the parent's segments outside weak regions unchanged,
    each region replaced, kept or dropped (recorded in ``regions``). Calls ``progress`` with rising
    fractions, 1.0 only at the end; whatever it raises stops the work and comes out of this call.
    Same input and options give byte-identical JSON.
    """
    model_name = options.model or parent.provenance.model
    whisper = transcriber.whisper(model_name)
    multilingual = bool(whisper.model.is_multilingual)
    segments = parent.segments
    other_model = model_name != parent.provenance.model
    reasons = text_reasons(segments, other_model)
    max_duration = parent.duration + 1.0
    if multilingual:
        for i in _other_language(whisper, media, parent, reasons, max_duration):
            reasons[i].add(LANGUAGE)
    weak = weak_regions(segments, reasons, parent.duration)
    report = _Reporter(progress, len(weak))
    report.step()
    chosen: dict[int, tuple[Region, tuple[Segment, ...]]] = {}
    ranges = [(w.start, w.end) for w in weak]
    audios = decode_ranges(media, ranges, max_duration=max_duration)
    for n, (region, audio) in enumerate(zip(weak, audios, strict=True)):
        margin = -REPLACE_MARGIN if other_model else REPLACE_MARGIN
        chosen[region.first] = _redo(whisper, multilingual, parent, region, audio, options, margin)
        report.step(n + 1)
    out = _assemble(segments, weak, chosen, parent.language)
    if progress:
        progress(1.0)
    return parent.model_copy(
        update={
            "segments": out,
            "regions": tuple(r for r, _ in (chosen[w.first] for w in weak)),
            "provenance": Provenance(
                stage="multipass",
                model=model_name,
                options={**options.as_dict(), "rules_version": RULES_VERSION},
                engine=engine_versions(),
            ),
        }
    )


# --- finding weak regions ------------------------------------------------------------------------


def _other_language(
    whisper: WhisperModel,
    media: MediaProbe,
    parent: TranscriptDocument,
    reasons: list[set[str]],
    max_duration: float,
) -> Iterator[int]:
    """Indices of doubtful segments whose audio is in another language than the document's."""
    doubtful = [
        i
        for i, seg in enumerate(parent.segments)
        if not reasons[i] and (mean_probability(seg.words) or 0.0) < DOUBTFUL_WORD_PROBABILITY
    ]
    blocks = _blocks(parent.segments, doubtful)
    ranges = [(parent.segments[b[0]].start, parent.segments[b[-1]].end) for b in blocks]
    audios = decode_ranges(media, ranges, max_duration=max_duration)
    for block, audio in zip(blocks, audios, strict=True):
        language, probability = _detect(whisper, audio)
        other = language != parent.language and probability >= LANGUAGE_PROBABILITY
        if other or probability < NOT_SPEECH_LANGUAGE_PROBABILITY:
            yield from block


def _blocks(segments: Sequence[Segment], indices: list[int]) -> list[list[int]]:
    """Consecutive ``indices`` grouped into stretches of at most ``MAX_REGION`` seconds."""
    blocks: list[list[int]] = []
    for i in indices:
        if blocks and blocks[-1][-1] == i - 1:
            first = segments[blocks[-1][0]]
            if segments[i].end - first.start <= MAX_REGION:
                blocks[-1].append(i)
                continue
        blocks.append([i])
    return blocks


# --- decoding a region again ---------------------------------------------------------------------


def _redo(
    whisper: WhisperModel,
    multilingual: bool,
    parent: TranscriptDocument,
    region: WeakRegion,
    audio: AudioArray,
    options: MultipassOptions,
    margin: float,
) -> tuple[Region, tuple[Segment, ...]]:
    """Decode one region again and decide: replaced (if it scores ``margin`` above the first
    pass), kept or dropped."""
    old = parent.segments[region.first : region.last + 1]
    before = score(w for s in old for w in s.words)
    if len(audio) < MIN_AUDIO:  # nothing to decode: keep what the first pass found
        empty = Region(
            start=region.start,
            end=region.end,
            reasons=tuple(sorted(region.reasons)),
            action=KEPT,
            score_before=before or 0.0,
        )
        return empty, tuple(old)
    language, probability = _detect(whisper, audio) if multilingual else ("en", 1.0)
    unsure = multilingual and region.end - region.start >= UNSURE_MIN_SECONDS
    if (
        unsure
        and options.drop_non_speech
        and probability < NOT_SPEECH_LANGUAGE_PROBABILITY
        and (before or 0.0) < UNSURE_SPEECH_SCORE
    ):
        # No language fits and the first pass doubted its words: not speech, without the cost
        # of beam decodes that could only say the same.
        decoded = _Decoded((), None, language, probability)
    else:
        decoded = _decode(whisper, parent, region, audio, options, (language, probability))
    not_speech = not decoded.segments or (
        unsure
        and decoded.language_probability < NOT_SPEECH_LANGUAGE_PROBABILITY
        and (decoded.score or 0.0) < UNSURE_SPEECH_SCORE
    )
    kept: tuple[Segment, ...]
    if not_speech and options.drop_non_speech:
        action, kept = DROPPED, ()
    elif decoded.score is not None and decoded.score > (before or 0.0) + margin:
        action, kept = REPLACED, decoded.segments
    else:
        action, kept = KEPT, tuple(old)
    described = Region(
        start=region.start,
        end=region.end,
        reasons=tuple(sorted(region.reasons)),
        action=action,
        language=decoded.language if multilingual else None,
        score_before=before or 0.0,
        score_after=decoded.score,
    )
    return described, kept


def _decode(
    whisper: WhisperModel,
    parent: TranscriptDocument,
    region: WeakRegion,
    audio: AudioArray,
    options: MultipassOptions,
    detected: tuple[str, float],
) -> _Decoded:
    """The ladder: a beam decode prompted with the preceding words, then, if that one loops or is
    unsure, an unprompted one that may not repeat a 4-word phrase. All at temperature 0, so
    reproducible. ``detected`` is the region's own language (detected once by the caller and
    given to every rung, so no rung pays for a detection of its own); a prompt in the document's
    language is not given to a region in another one."""
    parent_options = parent.provenance.options
    hotwords = options.hotwords or _text_option(parent_options, "hotwords")
    language, probability = detected
    prompt = _prompt(parent, region) if language == parent.language else None
    common: dict[str, Any] = {
        "language": language,
        "task": _text_option(parent_options, "task") or "transcribe",
        "beam_size": options.beam_size,
        "temperature": 0.0,
        "word_timestamps": True,
        "vad_filter": False,
        "hotwords": hotwords,
        "no_speech_threshold": _NO_SPEECH_THRESHOLD,
        "log_prob_threshold": _LOG_PROB_THRESHOLD,
    }
    ladder: tuple[dict[str, Any], ...] = (
        {"initial_prompt": prompt, "condition_on_previous_text": True},
        {"initial_prompt": None, "condition_on_previous_text": False, "no_repeat_ngram_size": 4},
    )
    best: tuple[Segment, ...] = ()
    best_score: float | None = None
    for step in ladder:
        raw, _info = whisper.transcribe(audio, **common, **step)
        found = tuple(convert_segments(raw, region.start))
        found_score = score(w for s in found for w in s.words)
        if best_score is None or (found_score is not None and found_score > best_score):
            best, best_score = found, found_score
        if found and not _unsure(found):
            break
    return _Decoded(best, best_score, language, probability)


def _unsure(segments: Sequence[Segment]) -> bool:
    """Whether a decode needs the next rung: it loops or Whisper itself doubted it."""
    text = "".join(s.text for s in segments)
    words = [w.text for s in segments for w in s.words]
    low = any(s.avg_logprob < _LOG_PROB_THRESHOLD for s in segments)
    return low or compression_ratio(text) > MAX_COMPRESSION_RATIO or bool(loop_spans(words))


def _detect(whisper: WhisperModel, audio: AudioArray) -> tuple[str, float]:
    """The language of ``audio`` (its first 30 s) and its probability."""
    language, probability, _all = whisper.detect_language(audio=audio)
    return str(language), round(float(probability), 4)


def _prompt(parent: TranscriptDocument, region: WeakRegion) -> str | None:
    """The parent's words just before the region (not weak ones): context for the decoder."""
    words = [w.text for s in parent.segments[: region.first] for w in s.words]
    text = "".join(words[-PROMPT_WORDS:]).strip()
    return text or None


def _text_option(options: dict[str, str | int | float | bool | None], name: str) -> str | None:
    value = options.get(name)
    return value if isinstance(value, str) and value else None


def _assemble(
    segments: Sequence[Segment],
    weak: list[WeakRegion],
    chosen: dict[int, tuple[Region, tuple[Segment, ...]]],
    language: str,
) -> tuple[Segment, ...]:
    """The parent's segments with each region's choice in its place, numbered again."""
    inside = {i: w for w in weak for i in range(w.first, w.last + 1)}
    out: list[Segment] = []
    for i, seg in enumerate(segments):
        region = inside.get(i)
        if region is None or (region.first != i and chosen[region.first][0].action == KEPT):
            out.append(seg)
        elif region.first == i:
            described, kept = chosen[i]
            if described.action == KEPT:
                out.append(seg)
                continue
            other = described.language not in (None, language)
            tag = described.language if other else None
            out.extend(s.model_copy(update={"language": tag}) for s in kept)
    return tuple(s.model_copy(update={"id": n}) for n, s in enumerate(out))


@dataclass
class _Reporter:
    report: ProgressFn | None
    total: int
    last: float = 0.0

    def step(self, done: int = 0) -> None:
        if self.report is None:
            return
        fraction = round(_BEFORE_DONE * (0.05 + 0.95 * done / max(self.total, 1)), 4)
        if fraction > self.last:
            self.last = fraction
            self.report(fraction)
