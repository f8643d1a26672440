"""Speech recognition with faster-whisper's batched pipeline, window by window.

The result is a :class:`~trax.engine.result.TranscriptDocument`. Floats are rounded (times to the
millisecond, probabilities to 4 places) so that the same input, model and options give
byte-identical JSON.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trax import errors
from trax.engine.audio import AudioWindow, MediaProbe, decode_windows
from trax.engine.models import MODELS, LoadOptions, ModelCache, resolve
from trax.engine.options import TranscribeOptions
from trax.engine.result import SENTENCE_END, Provenance, Segment, TranscriptDocument, Word

if TYPE_CHECKING:
    from faster_whisper import BatchedInferencePipeline

#: Whisper's own rule for a segment that is silence, not speech.
_NO_SPEECH_PROB = 0.6
_LOW_LOGPROB = -1.0
_PHRASE_PAUSE = 1.0

ProgressFn = Callable[[float], None]


@dataclass(frozen=True)
class EngineConfig:
    """How to run inference on this machine; does not change the transcript's words."""

    model_cache_dir: Path
    window_seconds: float = 600.0
    max_duration: float = 6 * 3600.0
    batch_size: int = 8
    load: LoadOptions = field(default_factory=LoadOptions)


def engine_versions() -> dict[str, str]:
    """Versions of the libraries that produce a transcript."""
    names = ("trax", "faster-whisper", "ctranslate2", "av")
    return {n: importlib.metadata.version(n) for n in names}


class Transcriber:
    """Turns a probed media file into a transcript document. Thread-safe; models are shared."""

    def __init__(self, config: EngineConfig, cache: ModelCache = MODELS) -> None:
        self._config = config
        self._cache = cache

    def pipeline(self, model: str) -> BatchedInferencePipeline:
        from faster_whisper import BatchedInferencePipeline

        ref = resolve(model, self._config.model_cache_dir)
        whisper = self._cache.get(ref, self._config.load, self._config.model_cache_dir)
        return BatchedInferencePipeline(whisper)

    def transcribe(
        self, media: MediaProbe, options: TranscribeOptions, progress: ProgressFn | None = None
    ) -> TranscriptDocument:
        """Transcribe ``media``; calls ``progress`` with the fraction of audio done."""
        pipeline = self.pipeline(options.model)
        cfg = self._config
        windows = decode_windows(
            media, window_seconds=cfg.window_seconds, max_duration=cfg.max_duration
        )
        language, language_probability = options.language, 1.0 if options.language else 0.0
        segments: list[Segment] = []
        duration = 0.0
        total = media.duration or 0.0
        for window in windows:
            detected, probability, found = self._window(pipeline, window, options, language)
            if language is None and found:
                language, language_probability = detected, probability
            for seg in found:
                segments.append(seg.model_copy(update={"id": len(segments)}))
                if progress and total:
                    progress(min(seg.end / total, 1.0))
            duration = window.offset + window.duration
        if progress:
            progress(1.0)
        return TranscriptDocument(
            language=language or _fallback_language(pipeline, options),
            language_probability=round(language_probability, 4),
            duration=round(duration, 3),
            segments=tuple(segments),
            provenance=Provenance(
                stage="basic",
                model=options.model,
                options=options.as_dict(),
                engine=engine_versions(),
            ),
        )

    def _window(
        self,
        pipeline: BatchedInferencePipeline,
        window: AudioWindow,
        options: TranscribeOptions,
        language: str | None,
    ) -> tuple[str, float, list[Segment]]:
        try:
            raw, info = pipeline.transcribe(
                window.samples,
                language=language,
                task=options.task,
                beam_size=options.beam_size,
                vad_filter=options.vad,
                word_timestamps=True,
                initial_prompt=options.initial_prompt,
                batch_size=self._config.batch_size,
            )
            found = list(_convert(raw, window.offset))
        except (RuntimeError, ValueError) as exc:
            message = f"{window.offset:.0f} s: inference failed: {exc}"
            raise errors.TranscriptionError(message) from exc
        return info.language, float(info.language_probability), found


def _fallback_language(pipeline: BatchedInferencePipeline, options: TranscribeOptions) -> str:
    """The language of a transcript with no speech: asked for, or the model's only one."""
    if options.language:
        return options.language
    return "en" if not pipeline.model.model.is_multilingual else "und"


def _convert(raw: Iterable[Any], offset: float) -> Iterator[Segment]:
    """faster-whisper segments (one per ≤ 30 s chunk in batched mode) → phrase-level segments."""
    for seg in raw:
        silent = seg.no_speech_prob > _NO_SPEECH_PROB and seg.avg_logprob < _LOW_LOGPROB
        if not seg.text.strip() or silent:
            continue
        words = [
            Word(
                start=round(offset + w.start, 3),
                end=round(offset + w.end, 3),
                text=w.word,
                probability=round(float(w.probability), 4),
            )
            for w in (seg.words or ())
        ]
        scores = {
            "avg_logprob": round(float(seg.avg_logprob), 4),
            "no_speech_prob": round(float(seg.no_speech_prob), 4),
        }
        if not words:
            start, end = round(offset + seg.start, 3), round(offset + seg.end, 3)
            yield Segment(id=0, start=start, end=end, text=seg.text, words=(), **scores)
            continue
        for phrase in _phrases(words):
            text = "".join(w.text for w in phrase)
            yield Segment(
                id=0, start=phrase[0].start, end=phrase[-1].end, text=text, words=phrase, **scores
            )


def _phrases(words: list[Word]) -> Iterator[tuple[Word, ...]]:
    """Split words after a sentence end or before a long pause.

    Batched decoding without timestamp tokens is the fastest configuration, but it yields one
    segment per chunk of up to 30 s; the word timings give natural segments back for free.
    """
    start = 0
    for i, word in enumerate(words):
        last = i == len(words) - 1
        sentence_end = word.text.rstrip().endswith(SENTENCE_END)
        pause = not last and words[i + 1].start - word.end >= _PHRASE_PAUSE
        if last or sentence_end or pause:
            yield tuple(words[start : i + 1])
            start = i + 1


UNKNOWN_LANGUAGE = "unknown language code {code!r}; use a Whisper language code such as en or de"
UNKNOWN_TASK = "task must be transcribe or translate, not {task!r}"


def validate_options(options: TranscribeOptions) -> None:
    """Refuse options faster-whisper would only reject mid-run."""
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    if options.language is not None and options.language not in _LANGUAGE_CODES:
        raise errors.UsageError(UNKNOWN_LANGUAGE.format(code=options.language))
    if options.task not in ("transcribe", "translate"):
        raise errors.UsageError(UNKNOWN_TASK.format(task=options.task))
