"""Multi-pass refinement of real first-pass transcripts with the real ``base`` model."""

from __future__ import annotations

import re
import shutil
import wave
from pathlib import Path

import numpy as np
import pytest

from trax.engine.asr import Transcriber
from trax.engine.audio import MediaProbe, decode_windows, probe
from trax.engine.multipass import MultipassOptions, loop_spans, refine, score
from trax.engine.options import TranscribeOptions
from trax.engine.result import Segment, TranscriptDocument, Word

BASE = TranscribeOptions(model="base")
GERMAN = {"der", "die", "und", "das", "diese", "zu", "mit", "recht"}


def words_of(text: str) -> list[str]:
    return re.findall(r"[\w']+", text.lower())


def probed(path: Path) -> MediaProbe:
    return probe(path, max_bytes=10**10, max_duration=10**6)


def first_pass(transcriber: Transcriber, path: Path) -> tuple[MediaProbe, TranscriptDocument]:
    media = probed(path)
    return media, transcriber.transcribe(media, BASE)


@pytest.fixture(scope="module")
def reversed_speech(tmp_path_factory: pytest.TempPathFactory, media: Path) -> Path:
    """sample.wav played backwards: voice-like and past VAD, but no language's words."""
    source = probed(media / "sample.wav")
    windows = decode_windows(source, window_seconds=600, max_duration=600)
    audio = np.concatenate([w.samples for w in windows])
    pcm = (np.clip(audio[::-1], -1, 1) * 32767).astype("<i2")
    path = tmp_path_factory.mktemp("multipass") / "reversed.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(pcm.tobytes())
    return path


@pytest.fixture(scope="module")
def jfk(transcriber: Transcriber, media: Path) -> tuple[MediaProbe, TranscriptDocument]:
    return first_pass(transcriber, media / "jfk.flac")


def test_not_speech_gives_no_words(transcriber: Transcriber, reversed_speech: Path) -> None:
    media, v1 = first_pass(transcriber, reversed_speech)
    assert len(v1.words) > 10  # the first pass writes words, looping ("he's been there", 13 times)
    assert loop_spans([w.text for w in v1.words])

    v3 = refine(transcriber, media, v1, MultipassOptions())

    assert v3.words == []
    assert v3.regions
    assert {r.action for r in v3.regions} == {"dropped"}
    assert "repetition" in {reason for r in v3.regions for reason in r.reasons}


def test_a_loop_is_repaired_and_refining_is_reproducible(
    transcriber: Transcriber, jfk: tuple[MediaProbe, TranscriptDocument], jfk_text: str
) -> None:
    media, v1 = jfk
    looped = _with_loop(v1)
    seen: list[float] = []

    v3 = refine(transcriber, media, looped, MultipassOptions(), progress=seen.append)

    assert words_of(v3.text) == words_of(jfk_text)
    assert not loop_spans([w.text for w in v3.words])
    assert [r.action for r in v3.regions] == ["replaced"]
    assert "repetition" in v3.regions[0].reasons
    assert v3.regions[0].score_before == 0.0
    assert (v3.regions[0].score_after or 0.0) > 0.5
    assert [s.id for s in v3.segments] == list(range(len(v3.segments)))
    assert (v3.provenance.stage, v3.provenance.model) == ("multipass", "base")
    assert v3.provenance.parent_version is None
    assert seen == sorted(seen)
    assert seen[-1] == 1.0
    assert seen.count(1.0) == 1
    again = refine(transcriber, media, looped, MultipassOptions())
    assert again.to_json() == v3.to_json()


def test_progress_errors_stop_refining(
    transcriber: Transcriber, jfk: tuple[MediaProbe, TranscriptDocument]
) -> None:
    media, v1 = jfk

    def cancel(fraction: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        refine(transcriber, media, _with_loop(v1), MultipassOptions(), progress=cancel)


def test_no_weak_regions_keeps_everything_without_decoding(
    transcriber: Transcriber, media: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "jfk.flac"
    shutil.copyfile(media / "jfk.flac", copy)
    probe_, v1 = first_pass(transcriber, copy)
    copy.unlink()  # decoding anything now would fail

    v3 = refine(transcriber, probe_, v1, MultipassOptions())

    assert v3.segments == v1.segments
    assert v3.regions == ()
    assert v3.provenance.stage == "multipass"
    assert v3.provenance.options["beam_size"] == 8


def test_code_switched_file_keeps_german_words_german(
    transcriber: Transcriber, media: Path
) -> None:
    probe_, v1 = first_pass(transcriber, media / "multilingual.mp3")
    second_half = [s for s in v1.segments if s.start >= 30]
    assert v1.language == "en"
    assert not GERMAN & set(words_of(" ".join(s.text for s in second_half)))  # invented English

    v3 = refine(transcriber, probe_, v1, MultipassOptions())

    german = [s for s in v3.segments if s.start >= 30]
    assert german
    assert {s.language for s in german} == {"de"}
    assert len(GERMAN & set(words_of(" ".join(s.text for s in german)))) >= 5
    assert {s.language for s in v3.segments if s.end < 30} == {None}  # English stays English
    assert [r.language for r in v3.regions] == ["de"]
    assert "language" in v3.regions[0].reasons


def _with_loop(doc: TranscriptDocument) -> TranscriptDocument:
    """``doc`` with its last segment's words turned into a loop over the same time span, the
    shape batched decoding without fallback leaves on a damaged or noisy stretch."""
    last = doc.segments[-1]
    step = (last.end - last.start) / 12
    loop = tuple(
        Word(
            start=round(last.start + i * step, 3),
            end=round(last.start + (i + 1) * step, 3),
            text=" okay,",
            probability=0.9,
        )
        for i in range(12)
    )
    looped = Segment(
        id=last.id,
        start=last.start,
        end=last.end,
        text="".join(w.text for w in loop),
        avg_logprob=last.avg_logprob,
        no_speech_prob=last.no_speech_prob,
        words=loop,
    )
    return doc.model_copy(update={"segments": (*doc.segments[:-1], looped)})


def test_a_long_phrase_repeated_is_a_loop_and_scores_zero() -> None:
    """Seen on babble at 0 dB: a confident 5-word loop must not beat the first pass."""
    text = "Who's fresh of hair now?" + " That will not tell you." * 6
    words = [Word(start=i, end=i + 0.5, text=f" {t}", probability=0.9)
             for i, t in enumerate(text.split())]  # fmt: skip
    assert loop_spans([w.text for w in words]) == [(5, 35)]
    assert score(words) == 0.0
    assert score(words[:6]) == 0.9
