"""Transcription of real recordings with the real models."""

from __future__ import annotations

import itertools
import re
import time
from dataclasses import replace
from pathlib import Path

import pytest

from trax import errors
from trax.engine.asr import Transcriber
from trax.engine.audio import probe
from trax.engine.models import ModelCache, resolve
from trax.engine.options import TranscribeOptions
from trax.engine.result import TranscriptDocument
from trax.engine.weak_regions import score

TINY = TranscribeOptions(model="tiny.en")


def words_of(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def run(transcriber: Transcriber, path: Path, options: TranscribeOptions) -> TranscriptDocument:
    return transcriber.transcribe(probe(path, max_bytes=10**10, max_duration=10**6), options)


@pytest.fixture(scope="module")
def jfk_doc(transcriber: Transcriber, media: Path) -> TranscriptDocument:
    return run(transcriber, media / "jfk.flac", TINY)


def test_jfk_words_and_timings(jfk_doc: TranscriptDocument, jfk_text: str) -> None:
    assert words_of(jfk_doc.text) == words_of(jfk_text)
    assert jfk_doc.language == "en"
    assert jfk_doc.duration == pytest.approx(11.0, abs=0.05)
    words = jfk_doc.words
    assert len(words) == len(words_of(jfk_text))
    assert all(0 <= w.start <= w.end <= jfk_doc.duration for w in words)
    assert all(a.start <= b.start for a, b in itertools.pairwise(words))
    assert all(0.0 <= w.probability <= 1.0 for w in words)
    seg = jfk_doc.segments[0]
    assert seg.avg_logprob < 0
    assert 0 <= seg.no_speech_prob <= 1
    prov = jfk_doc.provenance
    assert (prov.stage, prov.model) == ("basic", "tiny.en")
    assert {"faster-whisper", "ctranslate2", "av", "trax"} <= set(prov.engine)
    # The default decode (beam everywhere) keeps the recipe stored transcripts were made with.
    assert "decode" not in prov.options
    assert jfk_doc.regions == ()


def test_same_input_and_options_give_identical_json(
    transcriber: Transcriber, media: Path, jfk_doc: TranscriptDocument
) -> None:
    again = run(transcriber, media / "jfk.flac", TINY)
    assert again.to_json() == jfk_doc.to_json()


def test_video_container_gives_the_same_words(
    transcriber: Transcriber, derived: dict[str, Path], jfk_text: str
) -> None:
    doc = run(transcriber, derived["video"], TINY)
    assert words_of(doc.text) == words_of(jfk_text)


@pytest.mark.parametrize("key", ["silence", "noise", "tone"])
def test_no_invented_sentences_from_non_speech(
    transcriber: Transcriber, derived: dict[str, Path], key: str
) -> None:
    doc = run(transcriber, derived[key], TINY)
    assert len(doc.words) <= 3, doc.text


def test_long_input_in_small_windows_keeps_every_stretch_once(
    transcriber: Transcriber, derived: dict[str, Path]
) -> None:
    whole = run(transcriber, derived["long"], TINY)
    small = Transcriber(
        transcriber._config.__class__(  # same engine, forced 40-second windows
            model_cache_dir=transcriber._config.model_cache_dir,
            window_seconds=40,
            load=transcriber._config.load,
        )
    )
    windowed = run(small, derived["long"], TINY)
    assert windowed.duration == pytest.approx(whole.duration, abs=0.05)
    starts = [w.start for w in windowed.words]
    assert starts == sorted(starts)
    assert starts[-1] > 90  # words found in the last window, at their true time
    assert [s.id for s in windowed.segments] == list(range(len(windowed.segments)))
    a, b = words_of(whole.text), words_of(windowed.text)
    assert abs(len(a) - len(b)) <= 0.1 * len(a)


def test_a_model_unloaded_between_windows_is_reloaded_transparently(
    transcriber: Transcriber, media: Path
) -> None:
    config = transcriber._config
    reference = Transcriber(replace(config, window_seconds=15))
    cache = ModelCache()
    idle = Transcriber(replace(config, window_seconds=15, idle_seconds=0.2), cache)
    ref = resolve("tiny.en", config.model_cache_dir)
    waited: list[bool] = []

    def wait_for_unload(_fraction: float) -> None:
        """After the first window's words: wait until the idle scheduler dropped the model."""
        deadline = time.monotonic() + 20
        while not waited and cache.loaded(ref, config.load) and time.monotonic() < deadline:
            time.sleep(0.05)
        waited.append(not cache.loaded(ref, config.load))

    sample = probe(media / "sample.wav", max_bytes=10**10, max_duration=10**6)
    doc = idle.transcribe(sample, TINY, wait_for_unload)
    assert waited[0], "the model was unloaded after the first window"
    assert cache.loaded(ref, config.load), "and loaded again for the next one"
    assert doc.duration == pytest.approx(30, abs=0.1)
    assert doc.to_json() == reference.transcribe(sample, TINY).to_json()


def test_multilingual_base_detects_the_language(
    transcriber: Transcriber, media: Path, jfk_text: str
) -> None:
    doc = run(transcriber, media / "jfk.flac", TranscribeOptions(model="base"))
    assert doc.language == "en"
    assert 0.5 < doc.language_probability <= 1.0
    assert words_of(doc.text) == words_of(jfk_text)


def test_a_model_that_cannot_load_is_a_model_error(
    transcriber: Transcriber, media: Path, tmp_path: Path
) -> None:
    with pytest.raises(errors.ModelError, match=r"no model\.bin"):
        run(transcriber, media / "jfk.flac", TranscribeOptions(model=str(tmp_path)))


GREEDY_BEAM = TranscribeOptions(model="tiny.en", decode="greedy-beam")


@pytest.fixture(scope="module")
def radio_greedy_beam(transcriber: Transcriber, media: Path) -> TranscriptDocument:
    """Noisy air-to-ground radio: a greedy first pass has weak regions there."""
    return run(transcriber, media / "apollo11.mp3", GREEDY_BEAM)


def test_greedy_first_pass_takes_the_beam_decode_of_its_weak_regions(
    radio_greedy_beam: TranscriptDocument,
) -> None:
    doc = radio_greedy_beam
    assert doc.provenance.options["decode"] == "greedy-beam"
    assert doc.regions, "the radio has weak regions"
    for region in doc.regions:
        assert region.decode == "beam 5"
        assert region.action in ("replaced", "dropped")
        assert region.reasons
        inside = [w for w in doc.words if region.start <= w.start < region.end]
        if region.action == "dropped":
            assert not inside
        else:
            assert region.score_after == pytest.approx(score(inside), abs=1e-4)
    starts = [r.start for r in doc.regions]
    assert starts == sorted(starts)


def test_greedy_first_pass_keeps_the_transcript_structure(
    transcriber: Transcriber, media: Path, radio_greedy_beam: TranscriptDocument
) -> None:
    doc = radio_greedy_beam
    beam = run(transcriber, media / "apollo11.mp3", TINY)
    assert (doc.language, doc.duration) == (beam.language, beam.duration)
    assert [s.id for s in doc.segments] == list(range(len(doc.segments)))
    words = doc.words
    assert words
    assert all(0 <= w.start <= w.end <= doc.duration for w in words)
    assert all(a.start <= b.start for a, b in itertools.pairwise(words))
    for seg in doc.segments:
        assert seg.words
        assert seg.text == "".join(w.text for w in seg.words)
        assert (seg.start, seg.end) == (seg.words[0].start, seg.words[-1].end)
    again = run(transcriber, media / "apollo11.mp3", GREEDY_BEAM)
    assert again.to_json() == doc.to_json()
