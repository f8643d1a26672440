"""Cross-job batching: one inference thread per loaded model, shared by every job thread.

faster-whisper's batched pipeline batches only the ≤ 30 s chunks of one call, so short files leave
batches nearly empty. Here each job thread does VAD, chunking and language detection itself
(overlapping other jobs' inference), then an :class:`InferenceScheduler` thread decodes the chunks
of all waiting jobs with equal decoding options in one ``BatchedInferencePipeline.transcribe``
call (``clip_timestamps``: one clip per chunk). Requests are taken FIFO and whole (never split),
up to :attr:`~InferenceScheduler.max_call_chunks` chunks, the oldest always: a long window delays
others by at most its own few batches.

A call's layout keeps a window's result independent of its batch-mates, as faster-whisper's
word-timing code works on absolute times: a window's chunks lie back to back from a whole second
(as on the pipeline's own speech-only timeline), all between :data:`ORIGIN_SECONDS` and twice
that (where float arithmetic on times is the same for any whole-second shift; the zeros before
are never touched, so never resident). Its first word is shortened if over-long "after a pause",
judged against the speech decoded just before (time 0 in a plain call): a window is placed
:data:`GAP_SECONDS` after all earlier ones so that this always applies (no VAD: may start with
silence), or as far before them so that it never does (VAD: speech starts within 0.4 s). A plain
call decides by whether that word ends over four median word durations in; both agree unless the
word is over-long. What still depends on batch-mates is CTranslate2's batched alignment: word
probabilities differ in the 3rd-4th decimal and, rarely, a word boundary by a few hundredths.
"""

from __future__ import annotations

import ctypes
import dataclasses
import functools
import math
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import numpy as np
import structlog

from trax.engine.audio import SAMPLE_RATE, AudioArray

log = structlog.get_logger(__name__)

#: Whisper's input length; the batched pipeline's chunk limit and VAD split length.
CHUNK_SECONDS = 30
#: Seconds between windows in a call: faster-whisper's pause test is at most 2.8 s and word ends
#: at most 1.2 s past their chunk, so 5 s settles it whatever the words.
GAP_SECONDS = 5
#: Where a call's audio starts: 2^11 s (module docstring).
ORIGIN_SECONDS = 2048
#: Chunks the encoder takes at once. Its self-attention holds batch x heads x 1500² floats: at 8
#: chunks that is 0.6 GB more peak memory than at 2 (ADR 0020), for no speed (the encoder costs
#: the same per chunk at any batch size on a CPU). Decoding still runs on the whole batch.
ENCODE_BATCH = 2
#: Chunks CTranslate2's ``generate`` decodes at once. Its buffers grow with the chunks decoded
#: together (≈ +240 MB as soon as 8 chunks start with beam 5, more as their outputs grow): that
#: was the process's peak on long files, ≈ 200 MB above 4 chunks (ADR 0020, memory revision).
#: The pipeline's batch (features, encoder output, alignment) stays ``batch_size``.
GENERATE_BATCH = 4
_PAUSE = 3  # "previous speech" this long before a call's first chunk is a pause (> 2.8 s)

#: Per chunk, its faster-whisper segments (times relative to the chunk's start).
ChunkSegments = list[list[Any]]
#: Called with the seconds of a window's audio transcribed so far.
SecondsFn = Callable[[float], None]


class SchedulerClosedError(Exception):
    """The scheduler went idle and stopped; ask the registry for a new one."""


@dataclass(frozen=True)
class DecodeKey:
    """Options that must be equal for chunks to share one inference call."""

    language: str
    task: str
    beam_size: int
    initial_prompt: str | None
    hotwords: str | None = None


@functools.cache
def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018 (glibc only)
    except (OSError, AttributeError):
        return None
    return libc


def release_free_memory() -> None:
    """Give the free pages of every thread's heap back to the system (glibc's ``malloc_trim``).

    VAD, language detection and each inference call free hundreds of MB of temporary buffers;
    glibc keeps them in the heap of the thread that freed them, resident but unusable by the
    other threads, so the next peak of another thread comes on top (ADR 0020). A no-op where the
    C library is not glibc. Costs a few ms; a lower ``mallopt`` mmap threshold instead mmapped
    (and faulted in again) every large buffer on each use, for much more CPU time.
    """
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


@dataclass(frozen=True)
class WindowResult:
    """A window's faster-whisper segments (times relative to the window) and its language."""

    segments: list[Any]
    language: str | None
    language_probability: float


@dataclass(frozen=True)
class SchedulerStats:
    calls: int = 0
    chunks: int = 0
    requests: int = 0
    max_chunks_per_call: int = 0
    max_requests_per_call: int = 0

    @property
    def chunks_per_call(self) -> float:
        return self.chunks / self.calls if self.calls else 0.0

    def add(self, requests: int, chunks: int) -> SchedulerStats:
        return SchedulerStats(
            calls=self.calls + 1,
            chunks=self.chunks + chunks,
            requests=self.requests + requests,
            max_chunks_per_call=max(self.max_chunks_per_call, chunks),
            max_requests_per_call=max(self.max_requests_per_call, requests),
        )


@dataclass
class _Request:
    key: DecodeKey
    chunks: list[AudioArray]
    after_pause: bool  # whether the first chunk counts as following a pause
    future: Future[ChunkSegments]
    #: How many of its chunks are decoded, posted by the inference thread as batches finish;
    #: ``None`` once the future is done.
    done: queue.SimpleQueue[int | None] = dataclasses.field(default_factory=queue.SimpleQueue)

    def __post_init__(self) -> None:
        # The callback holds the queue, not the request: a request -> future -> callback ->
        # request cycle kept every finished window's chunks and segments alive until the
        # garbage collector's rare full pass (+20 to +40 MB per window on long files; ADR 0020).
        done = self.done
        self.future.add_done_callback(lambda _: done.put(None))


@dataclass(frozen=True)
class _Layout:
    """One call's audio: where each chunk sits (samples) and whose chunk it is."""

    audio: AudioArray
    starts: list[int]
    owners: list[tuple[int, int]]  # (request index, chunk index)
    clips: list[dict[str, float]]
    last_speech: float  # the pipeline's "end of previous speech" before the first chunk


class InferenceScheduler:
    """Batches the chunks of concurrent ``transcribe_window`` callers into shared calls.

    Thread-safe. Its thread stops after ``idle_seconds`` without work and calls ``on_idle``;
    a stopped scheduler refuses new windows with :class:`SchedulerClosedError`.
    """

    def __init__(
        self,
        model: Any,
        *,
        batch_size: int = 8,
        idle_seconds: float = 300.0,
        linger_seconds: float = 0.05,
        batches_per_call: int = 4,
        on_idle: Callable[[InferenceScheduler], None] | None = None,
    ) -> None:
        from faster_whisper import BatchedInferencePipeline

        self.model = model
        self.batch_size = batch_size
        self.max_call_chunks = batch_size * batches_per_call
        self._pipeline = BatchedInferencePipeline(_SubBatchedEncoder(model, ENCODE_BATCH))
        self._idle_seconds = idle_seconds
        self._linger_seconds = linger_seconds
        self._on_idle = on_idle
        self._cond = threading.Condition()
        self._pending: deque[_Request] = deque()
        self._in_flight = 0  # callers inside transcribe_window
        self._preparing = 0  # of those, the ones that have not submitted yet
        self._closed = False
        self._stats = SchedulerStats()
        self._thread = threading.Thread(target=self._run, name="trax-inference", daemon=True)
        self._thread.start()

    @property
    def multilingual(self) -> bool:
        return bool(self.model.model.is_multilingual)

    @property
    def closed(self) -> bool:
        with self._cond:
            return self._closed

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stats(self) -> SchedulerStats:
        with self._cond:
            return self._stats

    def transcribe_window(
        self,
        audio: AudioArray,
        *,
        language: str | None,
        task: str = "transcribe",
        beam_size: int = 5,
        initial_prompt: str | None = None,
        hotwords: str | None = None,
        vad: bool = True,
        on_progress: SecondsFn | None = None,
    ) -> WindowResult:
        """Transcribe 16 kHz mono ``audio``; ``language=None`` detects it on this window.

        ``on_progress`` is called on this thread with the seconds of ``audio`` transcribed so far,
        as batches of its chunks finish (not for the last one: the caller knows when it returns).
        Whatever it raises ends the wait and comes out of this call.
        """
        from faster_whisper.transcribe import restore_speech_timestamps

        self._enter()
        submitted = False
        try:
            speech = speech_timestamps(audio, vad)
            chunks, offsets = split_chunks(audio, speech)
            release_free_memory()  # VAD's buffers (≈ 200 MB for a 600 s window)
            if not chunks:
                return WindowResult([], language, 1.0 if language else 0.0)
            used, probability = self._language(language, chunks[0])
            release_free_memory()
            key = DecodeKey(used, task, beam_size, initial_prompt, hotwords)
            request = _Request(key, chunks, not vad, Future())
            self._submit(request)
            submitted = True
            per_chunk = _wait(request, chunk_ends(speech, chunks, offsets), on_progress)
        finally:
            self._leave(submitted)
        pairs = zip(per_chunk, offsets, strict=True)
        shifted = [shift(seg, offset) for segs, offset in pairs for seg in segs]
        segments = list(restore_speech_timestamps(shifted, speech, SAMPLE_RATE))
        return WindowResult(segments, used, probability)

    def transcribe_clips(
        self,
        clips: list[AudioArray],
        *,
        language: str,
        task: str = "transcribe",
        beam_size: int = 5,
        initial_prompt: str | None = None,
        hotwords: str | None = None,
    ) -> list[list[Any]]:
        """Decode each ≤ 30 s clip of 16 kHz mono audio on its own, without VAD, all in the same
        calls (batched with each other and with other callers' chunks); per clip, its
        faster-whisper segments, times relative to the clip."""
        self._enter()
        submitted = False
        try:
            key = DecodeKey(language, task, beam_size, initial_prompt, hotwords)
            requests = [_Request(key, [clip], True, Future()) for clip in clips if len(clip)]
            with self._cond:  # all at once, so that one call can take them together
                if self._closed:
                    raise SchedulerClosedError
                self._pending.extend(requests)
                self._preparing -= 1
                submitted = True
                self._cond.notify_all()
            done = iter([r.future.result()[0] for r in requests])
        finally:
            self._leave(submitted)
        return [next(done) if len(clip) else [] for clip in clips]

    def _language(self, language: str | None, first_chunk: AudioArray) -> tuple[str, float]:
        if not self.multilingual:
            return "en", 1.0  # what the pipeline itself does for an English-only model
        if language:
            return language, 1.0
        detected, probability, _all = self.model.detect_language(audio=first_chunk)
        return str(detected), float(probability)

    def _enter(self) -> None:
        with self._cond:
            if self._closed:
                raise SchedulerClosedError
            self._in_flight += 1
            self._preparing += 1

    def _submit(self, request: _Request) -> None:
        with self._cond:
            if self._closed:  # only if its thread died of a bug
                raise SchedulerClosedError
            self._pending.append(request)
            self._preparing -= 1
            self._cond.notify_all()

    def _leave(self, submitted: bool) -> None:
        with self._cond:
            self._in_flight -= 1
            if not submitted:
                self._preparing -= 1
            self._cond.notify_all()

    def _run(self) -> None:
        try:
            while (requests := self._next_call()) is not None:
                self._execute(requests)
        finally:  # normally idle, with nothing pending; after a bug, fail the waiting callers
            with self._cond:
                self._closed = True
                stranded, self._pending = list(self._pending), deque()
            for request in stranded:
                request.future.set_exception(RuntimeError("the inference scheduler stopped"))
        if self._on_idle is not None:
            try:
                self._on_idle(self)
            except Exception:  # a failed clean-up must not kill the process's thread silently
                log.exception("inference scheduler idle callback failed")

    def _next_call(self) -> list[_Request] | None:
        """The requests of the next call, or ``None`` when idle for ``idle_seconds``."""
        with self._cond:
            deadline = time.monotonic() + self._idle_seconds
            while not self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    if not self._in_flight:
                        self._closed = True
                        return None
                    deadline = time.monotonic() + self._idle_seconds  # callers are still busy
                    remaining = self._idle_seconds
                self._cond.wait(remaining)
            self._linger()
            return self._take()

    def _linger(self) -> None:
        """Wait briefly for callers still preparing when the next call would not fill a batch."""
        deadline = time.monotonic() + self._linger_seconds
        key = self._pending[0].key
        while self._preparing and self.batch_size > sum(
            len(r.chunks) for r in self._pending if r.key == key
        ):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._cond.wait(remaining)

    def _take(self) -> list[_Request]:
        """The oldest request, plus later ones with its key while they fit in one call."""
        key = self._pending[0].key
        taken: list[_Request] = []
        kept: deque[_Request] = deque()
        total = 0
        for request in self._pending:
            fits = total + len(request.chunks) <= self.max_call_chunks
            if request.key == key and (not taken or fits):
                taken.append(request)
                total += len(request.chunks)
            else:
                kept.append(request)
        self._pending = kept
        return taken

    def _execute(self, requests: list[_Request]) -> None:
        try:
            results = self._infer(requests)
        except Exception as exc:  # whatever inference raised is every waiting caller's error
            for request in requests:
                request.future.set_exception(exc)
            results = None
        release_free_memory()
        with self._cond:
            self._stats = self._stats.add(len(requests), sum(len(r.chunks) for r in requests))
        if results is not None:
            for request, result in zip(requests, results, strict=True):
                request.future.set_result(result)

    def _infer(self, requests: list[_Request]) -> list[ChunkSegments]:
        """One pipeline call over all chunks; per request, per chunk, chunk-relative segments."""
        key = requests[0].key
        layout = _layout(requests)
        self._pipeline.last_speech_timestamp = layout.last_speech
        raw, _info = self._pipeline.transcribe(
            layout.audio,
            language=key.language,
            task=key.task,
            beam_size=key.beam_size,
            initial_prompt=key.initial_prompt,
            hotwords=key.hotwords,
            word_timestamps=True,
            vad_filter=False,
            clip_timestamps=layout.clips,
            batch_size=self.batch_size,
        )
        results: list[ChunkSegments] = [[[] for _ in r.chunks] for r in requests]
        # Segments come in clip order, at least one per clip, each carrying its clip's start as
        # ``seek`` (in frames), computed like this:
        fps = self.model.frames_per_second
        seeks = [int(start / SAMPLE_RATE * fps) for start in layout.starts]
        i = posted = 0
        for segment in raw:
            while segment.seek != seeks[i]:
                i += 1
            # The pipeline decodes clips batch by batch and yields a batch's segments once it is
            # decoded: seeing clip i's means that its whole batch is done.
            batch_end = min((i // self.batch_size + 1) * self.batch_size, len(seeks))
            if batch_end > posted:
                release_free_memory()  # the batch's buffers, before the next one's
            for owner, chunk in layout.owners[posted:batch_end]:
                requests[owner].done.put(chunk + 1)
            posted = max(posted, batch_end)
            request, chunk = layout.owners[i]
            floor = 0.0 if chunk == 0 else -math.inf  # as a plain call's chunk at time 0
            relative = shift(segment, -layout.starts[i] / SAMPLE_RATE, floor)
            results[request][chunk].append(relative)
        return results


class _SubBatchedEncoder:
    """A ``WhisperModel`` as the batched pipeline sees it, but encoding and aligning words at most
    ``size`` chunks at a time (:data:`ENCODE_BATCH`); everything else is the model's own.

    Both passes hold per-chunk attention matrices (1500 x 1500 per head in the encoder, tokens x
    1500 per head and layer in the alignment), so their peak memory grows with the chunks taken
    at once, while their cost per chunk does not. Decoding still runs on the whole batch.
    """

    def __init__(self, model: Any, size: int) -> None:
        self._model = model
        self._size = size
        #: What the pipeline calls ``generate`` and ``detect_language`` on (CTranslate2's model).
        self.model = _SubBatchedGenerator(model.model, GENERATE_BATCH)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def encode(self, features: np.ndarray[Any, Any]) -> Any:
        """The encoder's output, :data:`ENCODE_BATCH` chunks at a time; its attention buffers are
        returned to the system before decoding allocates its own."""
        if features.ndim == 2 or len(features) <= self._size:
            encoded = self._model.encode(features)
        else:
            import ctranslate2

            parts = [
                np.asarray(self._model.encode(features[i : i + self._size]))
                for i in range(0, len(features), self._size)
            ]
            encoded = ctranslate2.StorageView.from_array(np.concatenate(parts))
            del parts
        release_free_memory()
        return encoded

    def add_word_timestamps(
        self,
        segments: list[Any],
        tokenizer: Any,
        encoder_output: Any,
        segment_sizes: list[int],
        *rest: Any,
    ) -> Any:
        """The model's own, chunk group by chunk group in order, carrying the end of the
        previous speech (its last argument) from one group to the next as it does inside one."""
        *punctuations, last_speech = rest
        size = self._size
        if len(segments) <= size:
            return self._model.add_word_timestamps(
                segments, tokenizer, encoder_output, segment_sizes, *punctuations, last_speech
            )
        import ctranslate2

        encoded = np.asarray(encoder_output)
        for i in range(0, len(segments), size):
            part = ctranslate2.StorageView.from_array(np.ascontiguousarray(encoded[i : i + size]))
            ended = self._model.add_word_timestamps(
                segments[i : i + size],
                tokenizer,
                part,
                segment_sizes[i : i + size],
                *punctuations,
                last_speech,
            )
            last_speech = last_speech if ended is None else ended
        return last_speech


class _SubBatchedGenerator:
    """CTranslate2's Whisper model as the batched pipeline sees it, but generating at most
    ``size`` chunks at a time (:data:`GENERATE_BATCH`); everything else is the model's own.

    Every chunk of a call has the same prompt and encoder length (no padding), so splitting the
    batch changes the memory, not the tokens (same words and times on the benchmark files).
    """

    def __init__(self, whisper: Any, size: int) -> None:
        self._whisper = whisper
        self._size = size

    def __getattr__(self, name: str) -> Any:
        return getattr(self._whisper, name)

    def generate(self, encoded: Any, prompts: list[list[int]], **options: Any) -> list[Any]:
        size = self._size
        if len(prompts) <= size:
            return list(self._whisper.generate(encoded, prompts, **options))
        import ctranslate2

        array = np.asarray(encoded)
        results: list[Any] = []
        for i in range(0, len(prompts), size):
            part = ctranslate2.StorageView.from_array(np.ascontiguousarray(array[i : i + size]))
            results += self._whisper.generate(part, prompts[i : i + size], **options)
            release_free_memory()
        return results


def _wait(request: _Request, ends: list[float], on_progress: SecondsFn | None) -> ChunkSegments:
    """The request's result; meanwhile ``on_progress`` with where its decoded chunks end, once
    per batch (the inference thread posts a batch's chunks together), never for the last one."""
    while (done := request.done.get()) is not None:
        while not request.done.empty():
            later = request.done.get()
            if later is None:
                return request.future.result()
            done = later
        if on_progress is not None and done < len(ends):
            on_progress(ends[done - 1])
    return request.future.result()


def _layout(requests: list[_Request]) -> _Layout:
    """Requests on whole seconds, each after or before all earlier ones (module docstring)."""
    bases: list[int] = []  # seconds, relative to the first request
    low = high = last_speech = 0
    for request in requests:
        span = math.ceil(sum(len(c) for c in request.chunks) / SAMPLE_RATE)
        if not bases:
            base = 0
            last_speech = -_PAUSE if request.after_pause else span + 2
        elif request.after_pause:
            base = high + GAP_SECONDS
        else:
            base = low - GAP_SECONDS - span
        bases.append(base)
        low, high = min(low, base), max(high, base + span)
    audio = np.zeros((ORIGIN_SECONDS + high - low) * SAMPLE_RATE, dtype=np.float32)
    starts: list[int] = []
    owners: list[tuple[int, int]] = []
    clips: list[dict[str, float]] = []
    for r, request in enumerate(requests):
        start = (ORIGIN_SECONDS + bases[r] - low) * SAMPLE_RATE
        for c, chunk in enumerate(request.chunks):
            audio[start : start + len(chunk)] = chunk
            starts.append(start)
            owners.append((r, c))
            clips.append({"start": _seconds(start), "end": _seconds(start + len(chunk))})
            start += len(chunk)
    return _Layout(audio, starts, owners, clips, float(ORIGIN_SECONDS + last_speech - low))


def _seconds(samples: int) -> float:
    """``samples`` in seconds, such that faster-whisper's ``int(s * 16000)`` gives it back."""
    seconds = samples / SAMPLE_RATE
    while int(seconds * SAMPLE_RATE) < samples:
        seconds = math.nextafter(seconds, math.inf)
    return seconds


def speech_timestamps(audio: AudioArray, vad: bool) -> list[dict[str, int]]:
    """Speech regions (samples) by the batched pipeline's VAD defaults; 30 s pieces if no VAD."""
    if not vad:
        step = CHUNK_SECONDS * SAMPLE_RATE
        return [{"start": s, "end": min(s + step, len(audio))} for s in range(0, len(audio), step)]
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(max_speech_duration_s=CHUNK_SECONDS, min_silence_duration_ms=160)
    found: list[dict[str, int]] = get_speech_timestamps(audio, options)
    return found


def split_chunks(
    audio: AudioArray, speech: list[dict[str, int]]
) -> tuple[list[AudioArray], list[float]]:
    """Speech merged into ≤ 30 s chunks, with each one's offset on the speech-only timeline."""
    if not speech:
        return [], []
    from faster_whisper.vad import collect_chunks

    chunks, metadata = collect_chunks(audio, speech, max_duration=CHUNK_SECONDS)
    pairs = [(c, float(m["offset"])) for c, m in zip(chunks, metadata, strict=True) if len(c)]
    return [c for c, _ in pairs], [o for _, o in pairs]


def chunk_ends(
    speech: list[dict[str, int]], chunks: list[AudioArray], offsets: list[float]
) -> list[float]:
    """Where each chunk's last speech ends in the audio (seconds), for progress."""
    from faster_whisper.vad import SpeechTimestampsMap

    timeline = SpeechTimestampsMap(speech, SAMPLE_RATE)
    return [
        timeline.get_original_time(offset + len(chunk) / SAMPLE_RATE, is_end=True)
        for chunk, offset in zip(chunks, offsets, strict=True)
    ]


def shift(segment: Any, seconds: float, floor: float = -math.inf) -> Any:
    """A copy of a faster-whisper segment with its and its words' times moved by ``seconds``."""

    def move(t: float) -> float:
        return max(floor, t + seconds)

    words = segment.words
    if words:
        words = [dataclasses.replace(w, start=move(w.start), end=move(w.end)) for w in words]
    start, end = move(segment.start), move(segment.end)
    return dataclasses.replace(segment, start=start, end=end, words=words)
