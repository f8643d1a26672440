"""Speech recognition with faster-whisper's batched pipeline, window by window.

Every window goes through the model's :class:`~trax.engine.batching.InferenceScheduler`, which
batches its speech chunks together with those of any other job running in this process; a single
file is just a scheduler with one caller.

The result is a :class:`~trax.engine.result.TranscriptDocument`. Floats are rounded (times to the
millisecond, probabilities to 4 places) so that the same input, model and options give
byte-identical JSON.
"""

from __future__ import annotations

import functools
import importlib.metadata
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trax import errors
from trax.engine.audio import AudioWindow, MediaProbe, decode_windows
from trax.engine.batching import InferenceScheduler, SchedulerClosedError, SecondsFn
from trax.engine.models import MODELS, LoadOptions, ModelCache, ModelRef, resolve
from trax.engine.options import TranscribeOptions
from trax.engine.result import SENTENCE_END, Provenance, Segment, TranscriptDocument, Word

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

#: Whisper's own rule for a segment that is silence, not speech.
_NO_SPEECH_PROB = 0.6
_LOW_LOGPROB = -1.0
_PHRASE_PAUSE = 1.0
#: Progress stays below this until the transcript is complete (a declared duration can be short).
_BEFORE_DONE = 0.99

ProgressFn = Callable[[float], None]


@dataclass(frozen=True)
class EngineConfig:
    """How to run inference on this machine; does not change the transcript's words."""

    model_cache_dir: Path
    window_seconds: float = 600.0
    max_duration: float = 6 * 3600.0
    batch_size: int = 8
    load: LoadOptions = field(default_factory=LoadOptions)
    #: A model unused this long is unloaded (its scheduler thread stops); reloaded on demand.
    idle_seconds: float = 300.0
    #: Where the diarized stage's models are (None: the copies shipped with trax).
    diarization_model_dir: Path | None = None


def engine_versions() -> dict[str, str]:
    """Versions of the libraries that produce a transcript."""
    names = ("trax", "faster-whisper", "ctranslate2", "av")
    return {n: importlib.metadata.version(n) for n in names}


class Transcriber:
    """Turns a probed media file into a transcript document. Thread-safe; models are shared.

    Holds one :class:`InferenceScheduler` per model; a scheduler that went idle has dropped its
    model from the cache and is replaced on the next use.
    """

    def __init__(self, config: EngineConfig, cache: ModelCache = MODELS) -> None:
        self._config = config
        self._cache = cache
        self._schedulers: dict[str, InferenceScheduler] = {}
        self._lock = threading.Lock()

    @property
    def config(self) -> EngineConfig:
        return self._config

    def pipeline(self, model: str) -> InferenceScheduler:
        """Load ``model`` now (to fail fast) and return its scheduler."""
        return self.scheduler(model)

    def scheduler(self, model: str) -> InferenceScheduler:
        """The running scheduler of ``model``, loading the model and starting one if needed."""
        cfg = self._config
        ref = resolve(model, cfg.model_cache_dir)
        with self._lock:
            current = self._schedulers.get(ref.location)
            if current is None or current.closed:
                whisper = self._cache.get(ref, cfg.load, cfg.model_cache_dir)
                current = InferenceScheduler(
                    whisper,
                    batch_size=cfg.batch_size,
                    idle_seconds=cfg.idle_seconds,
                    on_idle=functools.partial(self._idle, ref),
                )
                self._schedulers[ref.location] = current
            return current

    def whisper(self, model: str) -> WhisperModel:
        """The loaded ``WhisperModel`` for sequential decoding (``model.transcribe``), from the
        same cache and load options as the schedulers. CTranslate2 models accept concurrent calls
        from several threads, so this may be used beside the model's scheduler."""
        cfg = self._config
        return self._cache.get(resolve(model, cfg.model_cache_dir), cfg.load, cfg.model_cache_dir)

    def _idle(self, ref: ModelRef, scheduler: InferenceScheduler) -> None:
        with self._lock:
            if self._schedulers.get(ref.location) is scheduler:  # not already replaced
                del self._schedulers[ref.location]
                self._cache.drop(ref, self._config.load)

    def transcribe(
        self, media: MediaProbe, options: TranscribeOptions, progress: ProgressFn | None = None
    ) -> TranscriptDocument:
        """Transcribe ``media``; calls ``progress`` on this thread with the fraction of the audio
        done: rising as batches of speech are decoded, 1.0 at the end (and only then). Whatever
        ``progress`` raises stops the transcription and comes out of this call."""
        multilingual = self.scheduler(options.model).multilingual  # load before decoding
        cfg = self._config
        windows = decode_windows(
            media, window_seconds=cfg.window_seconds, max_duration=cfg.max_duration
        )
        language, language_probability = options.language, 1.0 if options.language else 0.0
        segments: list[Segment] = []
        duration = 0.0
        tracker = _Progress(progress, media.duration or 0.0)
        for window in windows:
            at = functools.partial(tracker.window, window)
            detected, probability, found = self._window(window, options, language, at)
            if language is None and found:
                language, language_probability = detected, probability
            for seg in found:
                segments.append(seg.model_copy(update={"id": len(segments)}))
            duration = window.offset + window.duration
            tracker.at(duration)
        if progress:
            progress(1.0)
        return TranscriptDocument(
            language=language or _fallback_language(multilingual, options),
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
        window: AudioWindow,
        options: TranscribeOptions,
        language: str | None,
        on_progress: SecondsFn,
    ) -> tuple[str | None, float, list[Segment]]:
        while True:
            scheduler = self.scheduler(options.model)
            try:
                result = scheduler.transcribe_window(
                    window.samples,
                    language=language,
                    task=options.task,
                    beam_size=options.beam_size,
                    initial_prompt=options.initial_prompt,
                    hotwords=options.hotwords,
                    vad=options.vad,
                    on_progress=on_progress,
                )
                found = list(convert_segments(result.segments, window.offset))
            except SchedulerClosedError:
                continue  # it went idle between windows: the next call starts a new one
            except (RuntimeError, ValueError) as exc:
                message = f"{window.offset:.0f} s: inference failed: {exc}"
                raise errors.TranscriptionError(message) from exc
            return result.language, result.language_probability, found


@dataclass
class _Progress:
    """Turns seconds of audio done into rising fractions of ``total`` for ``report``."""

    report: ProgressFn | None
    total: float
    last: float = 0.0

    def window(self, window: AudioWindow, seconds: float) -> None:
        self.at(window.offset + seconds)

    def at(self, seconds: float) -> None:
        if self.report is None or self.total <= 0:
            return  # without a declared duration, the only news is the end
        fraction = min(seconds / self.total, _BEFORE_DONE)
        if fraction > self.last:
            self.last = fraction
            self.report(fraction)


def _fallback_language(multilingual: bool, options: TranscribeOptions) -> str:
    """The language of a transcript with no speech: asked for, or the model's only one."""
    if options.language:
        return options.language
    return "und" if multilingual else "en"


def convert_segments(raw: Iterable[Any], offset: float) -> Iterator[Segment]:
    """faster-whisper segments (one per ≤ 30 s chunk in batched mode) → phrase-level segments.

    Times are shifted by ``offset`` seconds; segments Whisper judges silent are left out.
    """
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
        logprob, no_speech = round(float(seg.avg_logprob), 4), round(float(seg.no_speech_prob), 4)
        phrases = list(_phrases(words)) if words else [()]
        for phrase in phrases:
            start = phrase[0].start if phrase else round(offset + seg.start, 3)
            end = phrase[-1].end if phrase else round(offset + seg.end, 3)
            text = "".join(w.text for w in phrase) if phrase else seg.text
            yield Segment(
                id=0,
                start=start,
                end=end,
                text=text,
                words=phrase,
                avg_logprob=logprob,
                no_speech_prob=no_speech,
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
