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
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from trax import errors
from trax.engine.audio import SAMPLE_RATE, AudioWindow, MediaProbe, decode_windows
from trax.engine.batching import (
    CHUNK_SECONDS,
    InferenceScheduler,
    SchedulerClosedError,
    SecondsFn,
)
from trax.engine.models import MODELS, LoadOptions, ModelCache, ModelRef, resolve
from trax.engine.options import GREEDY_BEAM, TranscribeOptions
from trax.engine.result import (
    SENTENCE_END,
    Provenance,
    Region,
    Segment,
    TranscriptDocument,
    Word,
)
from trax.engine.weak_regions import score, text_reasons, weak_regions

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

#: Whisper's own rule for a segment that is silence, not speech.
_NO_SPEECH_PROB = 0.6
_LOW_LOGPROB = -1.0
_PHRASE_PAUSE = 1.0
#: Progress stays below this until the transcript is complete (a declared duration can be short).
_BEFORE_DONE = 0.99

ProgressFn = Callable[[float], None]
T = TypeVar("T")
#: What a weak region's beam decode did (as in ``Region.action``; ADR 0020).
REPLACED, DROPPED = "replaced", "dropped"


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
        ``progress`` raises stops the transcription and comes out of this call.

        The model loads on another thread while the first window is decoded, and each next window
        is decoded on a thread of its own while the model works on the current one (ADR 0020).
        VAD stays in the scheduler call, where the scheduler sees a caller preparing and waits
        for it to fill a batch, and its buffers never add to an inference peak.
        """
        cfg = self._config
        loading = _in_background(functools.partial(self.scheduler, options.model))
        windows = _ReadAhead(
            decode_windows(media, window_seconds=cfg.window_seconds, max_duration=cfg.max_duration)
        )
        try:
            return self._transcribe(windows, loading, options, media, progress)
        finally:
            windows.close()

    def _transcribe(
        self,
        windows: Iterable[AudioWindow],
        loading: Future[InferenceScheduler],
        options: TranscribeOptions,
        media: MediaProbe,
        progress: ProgressFn | None,
    ) -> TranscriptDocument:
        language, language_probability = options.language, 1.0 if options.language else 0.0
        segments: list[Segment] = []
        regions: list[Region] = []
        duration = 0.0
        tracker = _Progress(progress, media.duration or 0.0)
        for window in windows:
            loading.result()  # a model that cannot load fails here, before any inference
            at = functools.partial(tracker.window, window)
            detected, probability, found = self._window(window, options, language, at)
            if language is None and found:
                language, language_probability = detected, probability
            if found and _greedy_first(options):
                found, redone = self._beam_weak(window, found, detected or "en", options)
                regions += redone
            for seg in found:
                segments.append(seg.model_copy(update={"id": len(segments)}))
            duration = window.offset + window.duration
            tracker.at(duration)
        multilingual = loading.result().multilingual
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
            regions=tuple(regions),
        )

    def _window(
        self,
        window: AudioWindow,
        options: TranscribeOptions,
        language: str | None,
        on_progress: SecondsFn,
    ) -> tuple[str | None, float, list[Segment]]:
        beam_size = 1 if _greedy_first(options) else options.beam_size
        while True:
            scheduler = self.scheduler(options.model)
            try:
                result = scheduler.transcribe_window(
                    window.samples,
                    language=language,
                    task=options.task,
                    beam_size=beam_size,
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

    def _beam_weak(
        self,
        window: AudioWindow,
        found: list[Segment],
        language: str,
        options: TranscribeOptions,
    ) -> tuple[list[Segment], list[Region]]:
        """Decode the weak regions of a greedy first pass again with ``options.beam_size``, all
        in the same batched calls, and put their words in place of the greedy ones."""
        end = window.offset + window.duration
        weak = weak_regions(found, text_reasons(found, False), end, window.offset)
        if not weak:
            return found, []
        spans = [_clip_span(w.start, w.end) for w in weak]
        clips = [
            window.samples[
                round((a - window.offset) * SAMPLE_RATE) : round((b - window.offset) * SAMPLE_RATE)
            ]
            for a, b in spans
        ]
        while True:
            scheduler = self.scheduler(options.model)
            try:
                decoded = scheduler.transcribe_clips(
                    clips,
                    language=language,
                    task=options.task,
                    beam_size=options.beam_size,
                    initial_prompt=options.initial_prompt,
                    hotwords=options.hotwords,
                )
                break
            except SchedulerClosedError:
                continue
            except (RuntimeError, ValueError) as exc:
                message = f"{window.offset:.0f} s: inference failed: {exc}"
                raise errors.TranscriptionError(message) from exc
        out: list[Segment] = []
        regions: list[Region] = []
        taken = 0
        for region, (start, stop), raw in zip(weak, spans, decoded, strict=True):
            out += found[taken : region.first]
            old = found[region.first : region.last + 1]
            new = list(convert_segments(raw, start))
            out += new
            taken = region.last + 1
            regions.append(
                Region(
                    start=round(start, 3),
                    end=round(stop, 3),
                    reasons=tuple(sorted(region.reasons)),
                    action=REPLACED if new else DROPPED,
                    score_before=score([w for s in old for w in s.words]) or 0.0,
                    score_after=score([w for s in new for w in s.words]),
                    decode=f"beam {options.beam_size}",
                )
            )
        out += found[taken:]
        return out, regions


def _greedy_first(options: TranscribeOptions) -> bool:
    return options.decode == GREEDY_BEAM and options.beam_size > 1


def _clip_span(start: float, end: float) -> tuple[float, float]:
    """A weak region's audio, shrunk evenly at both ends to Whisper's input length if its padding
    made it longer (a region's segments span at most that)."""
    excess = (end - start) - CHUNK_SECONDS
    if excess <= 0:
        return start, end
    return start + excess / 2, end - excess / 2


def _in_background(fn: Callable[[], T]) -> Future[T]:
    """``fn()`` started on a thread of its own; its result or error comes out of the future."""
    future: Future[T] = Future()

    def run() -> None:
        try:
            future.set_result(fn())
        except BaseException as exc:  # handed to whoever asks for the result
            future.set_exception(exc)

    threading.Thread(target=run, name="trax-model-load", daemon=True).start()
    return future


class _ReadAhead(Iterator[T]):
    """Items of ``source`` produced one ahead on a thread of their own (decoding the next window
    while the model works on this one): the next item is started when this one is taken, so at
    most two are alive. Errors come out where the item would have; :meth:`close` stops the
    thread and closes ``source`` (its media file)."""

    def __init__(self, source: Iterator[T]) -> None:
        self._source = source
        self._queue: queue.SimpleQueue[tuple[T | None, BaseException | None, bool]] = (
            queue.SimpleQueue()
        )
        self._wanted = threading.Semaphore(1)
        self._stop = threading.Event()
        self._finished = False
        self._thread = threading.Thread(target=self._run, name="trax-read-ahead", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while self._want():
                item = next(self._source, None)
                if item is None:
                    break
                self._queue.put((item, None, False))
            self._queue.put((None, None, True))
        except BaseException as exc:  # handed to the consumer, raised there
            self._queue.put((None, exc, True))
        finally:
            close = getattr(self._source, "close", None)
            if close is not None:
                close()

    def _want(self) -> bool:
        """Wait until the consumer took the last item; False once closed."""
        while not self._wanted.acquire(timeout=0.1):
            if self._stop.is_set():
                return False
        return not self._stop.is_set()

    def __next__(self) -> T:
        if self._finished:
            raise StopIteration
        item, error, last = self._queue.get()
        self._wanted.release()
        if error is not None:
            self._finished = True
            raise error
        if last:
            self._finished = True
            raise StopIteration
        return item  # type: ignore[return-value]

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


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
