"""Cross-job batching with the real models and real recordings."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest

from trax.engine.asr import EngineConfig, Transcriber
from trax.engine.audio import SAMPLE_RATE, AudioArray
from trax.engine.batching import InferenceScheduler, SchedulerClosedError, WindowResult
from trax.engine.models import ModelCache, resolve

#: (text, start, end, probability) of every word.
WordRow = tuple[str, float, float, float]
A = TypeVar("A")
T = TypeVar("T")


def decode(path: Path) -> AudioArray:
    from faster_whisper.audio import decode_audio

    audio: AudioArray = decode_audio(str(path), sampling_rate=SAMPLE_RATE)
    return audio


def rows(segments: list[Any]) -> list[WordRow]:
    return [(w.word, w.start, w.end, w.probability) for s in segments for w in s.words or ()]


def words_of(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def text(result: WindowResult) -> str:
    return "".join(s.text for s in result.segments)


@pytest.fixture(scope="module")
def tiny(transcriber: Transcriber) -> Any:
    """The session's loaded ``tiny.en`` WhisperModel."""
    return transcriber.scheduler("tiny.en").model


@pytest.fixture
def scheduler(tiny: Any) -> InferenceScheduler:
    """A fresh scheduler (fresh stats) over the shared model; its thread stops soon after."""
    return InferenceScheduler(tiny, batch_size=8, idle_seconds=30.0)


@pytest.fixture(scope="module")
def clips(media: Path) -> list[AudioArray]:
    """Eight 3-10 s pieces of the shared recordings (jfk whole first)."""
    cuts = {
        "apollo11.mp3": [(0, 7), (7, 15), (30, 40), (60, 66)],
        "sample.wav": [(0, 8), (8, 14), (22, 30)],
    }
    found = [decode(media / "jfk.flac")]
    for name, spans in cuts.items():
        audio = decode(media / name)
        found += [audio[int(a * SAMPLE_RATE) : int(b * SAMPLE_RATE)] for a, b in spans]
    return found


def concurrently(fn: Callable[[A], T], inputs: list[A]) -> list[T]:
    """``fn`` over ``inputs``, one thread each, all released at once."""
    barrier = threading.Barrier(len(inputs))

    def run(item: A) -> T:
        barrier.wait()
        return fn(item)

    with ThreadPoolExecutor(len(inputs)) as pool:
        return list(pool.map(run, inputs))


@pytest.mark.parametrize("name", ["jfk.flac", "sample.wav"])
def test_same_words_as_a_plain_batched_pipeline_call(
    scheduler: InferenceScheduler, media: Path, name: str
) -> None:
    from faster_whisper import BatchedInferencePipeline

    audio = decode(media / name)
    plain, _info = BatchedInferencePipeline(scheduler.model).transcribe(
        audio, word_timestamps=True, batch_size=8
    )
    expected = rows(list(plain))
    got = rows(scheduler.transcribe_window(audio, language=None).segments)
    assert [r[0] for r in got] == [r[0] for r in expected]
    for g, e in zip(got, expected, strict=True):
        assert g[1:3] == pytest.approx(e[1:3], abs=0.02), g[0]


def assert_same_apart_from_alignment_noise(got: list[Any], expected: list[Any]) -> None:
    """Equal text and scores; CTranslate2's batched alignment pass depends slightly on the batch.

    Measured (tiny.en, int8, 38 windows in 40 random groupings, 4474 words): text, avg_logprob
    and no_speech_prob always identical; 1.4 % of word probabilities differ in the 4th decimal
    (at most 0.0073); one word end moved by 0.04 s.
    """
    assert [(s.text, s.avg_logprob, s.no_speech_prob) for s in got] == [
        (s.text, s.avg_logprob, s.no_speech_prob) for s in expected
    ]
    a, b = rows(got), rows(expected)
    assert [r[0] for r in a] == [r[0] for r in b]
    assert [t for r in a for t in r[1:3]] == pytest.approx([t for r in b for t in r[1:3]], abs=0.1)
    assert [r[3] for r in a] == pytest.approx([r[3] for r in b], abs=0.02)


def test_concurrent_callers_share_calls_and_get_their_own_words(
    scheduler: InferenceScheduler, clips: list[AudioArray]
) -> None:
    def one(audio: AudioArray) -> list[Any]:
        return scheduler.transcribe_window(audio, language="en").segments

    alone = [one(c) for c in clips]
    assert scheduler.stats().max_requests_per_call == 1
    together = concurrently(one, clips)
    for got, expected in zip(together, alone, strict=True):
        assert_same_apart_from_alignment_noise(got, expected)
    stats = scheduler.stats()
    assert stats.requests == 2 * len(clips)
    assert stats.calls < 2 * len(clips)
    assert stats.max_requests_per_call >= 2, stats


def test_a_window_does_not_depend_on_its_batch_mates(
    scheduler: InferenceScheduler, clips: list[AudioArray]
) -> None:
    """Determinism: jfk alone, then sharing calls with windows with and without VAD."""

    def one(item: tuple[AudioArray, bool]) -> list[Any]:
        audio, vad = item
        return scheduler.transcribe_window(audio, language="en", vad=vad).segments

    mates = [(c, i % 2 == 0) for i, c in enumerate(clips[1:5])]
    jfk = (clips[0], True)
    alone = one(jfk)
    assert_same_apart_from_alignment_noise(concurrently(one, [jfk, *mates])[0], alone)
    jfk = (clips[0], False)
    alone = one(jfk)
    assert_same_apart_from_alignment_noise(concurrently(one, [*mates, jfk])[-1], alone)
    assert scheduler.stats().max_requests_per_call >= 2


def test_language_is_detected_per_window(
    transcriber: Transcriber, media: Path, jfk_text: str
) -> None:
    jfk = decode(media / "jfk.flac")
    base = InferenceScheduler(transcriber.scheduler("base").model, idle_seconds=30.0)
    result = base.transcribe_window(jfk, language=None)
    assert result.language == "en"
    assert 0.5 < result.language_probability <= 1.0
    assert words_of(text(result)) == words_of(jfk_text)
    english_only = transcriber.scheduler("tiny.en")
    assert not english_only.multilingual
    assert english_only.transcribe_window(jfk[: 3 * SAMPLE_RATE], language=None).language == "en"


def test_without_vad_and_without_speech(
    scheduler: InferenceScheduler, clips: list[AudioArray], jfk_text: str
) -> None:
    jfk = clips[0]
    result = scheduler.transcribe_window(jfk, language="en", vad=False)
    assert words_of(text(result)) == words_of(jfk_text)
    # Longer than 30 s without VAD: fixed 30 s pieces, words at their true times.
    padded = np.concatenate([np.zeros(25 * SAMPLE_RATE, dtype=np.float32), jfk, jfk])
    result = scheduler.transcribe_window(padded, language="en", vad=False)
    starts = [w[1] for w in rows(result.segments)]
    assert starts == sorted(starts)
    assert starts[0] > 24
    assert starts[-1] < len(padded) / SAMPLE_RATE
    calls = scheduler.stats().calls
    silent = scheduler.transcribe_window(np.zeros(10 * SAMPLE_RATE, np.float32), language=None)
    assert silent == WindowResult([], None, 0.0)
    assert scheduler.stats().calls == calls, "no speech, no inference"


def test_an_inference_error_reaches_every_caller_and_the_scheduler_goes_on(
    transcriber: Transcriber, clips: list[AudioArray]
) -> None:
    base = InferenceScheduler(transcriber.scheduler("base").model, idle_seconds=30.0)
    short = [c[: 2 * SAMPLE_RATE] for c in clips[:2]]

    def bad(audio: AudioArray) -> str:
        try:
            base.transcribe_window(audio, language="xx")  # the tokenizer refuses it
        except ValueError as exc:
            return str(exc)
        return "no error"

    assert all("not a valid language code" in e for e in concurrently(bad, short))
    assert base.transcribe_window(clips[0], language="en").segments


def test_an_idle_scheduler_stops_and_unloads_its_model(
    transcriber: Transcriber, clips: list[AudioArray]
) -> None:
    config = transcriber._config
    cache = ModelCache()
    idle = Transcriber(
        EngineConfig(model_cache_dir=config.model_cache_dir, load=config.load, idle_seconds=0.5),
        cache,
    )
    ref = resolve("tiny.en", config.model_cache_dir)
    first = idle.pipeline("tiny.en")
    assert cache.loaded(ref, config.load)
    assert first.transcribe_window(clips[0], language=None).segments
    deadline = time.monotonic() + 20
    while first.running and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not first.running
    assert first.closed
    assert not cache.loaded(ref, config.load), "the model was dropped from the cache"
    with pytest.raises(SchedulerClosedError):
        first.transcribe_window(clips[0], language=None)
    second = idle.scheduler("tiny.en")
    assert second is not first
    assert cache.loaded(ref, config.load)
    assert rows(second.transcribe_window(clips[0], language=None).segments)


def test_clips_decoded_together_read_as_each_on_its_own(
    scheduler: InferenceScheduler, clips: list[AudioArray]
) -> None:
    """Weak regions of a greedy first pass go back to the model as clips, all in one call: each
    reads as when decoded alone (the call's 8 chunks are encoded two at a time)."""
    together = scheduler.transcribe_clips(clips, language="en", beam_size=5)
    alone = [
        scheduler.transcribe_window(clip, language="en", beam_size=5, vad=False).segments
        for clip in clips
    ]
    assert len(together) == len(clips)
    for got, expected in zip(together, alone, strict=True):
        assert_same_apart_from_alignment_noise(got, expected)
    assert scheduler.stats().max_chunks_per_call == len(clips)
