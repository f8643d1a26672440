"""Media with many channels: every channel reaches the mono mix that Whisper hears."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from trax.engine.asr import Transcriber
from trax.engine.audio import SAMPLE_RATE, AudioArray, decode_windows, probe
from trax.engine.options import TranscribeOptions

from ..conftest import ffmpeg
from .test_asr import words_of

TINY = TranscribeOptions(model="tiny.en")
BIG = 10**10


@pytest.fixture(scope="module")
def jfk_mono(media: Path) -> AudioArray:
    """jfk.flac as 16 kHz mono samples."""
    jfk = probe(media / "jfk.flac", max_bytes=BIG, max_duration=BIG)
    return np.concatenate(
        [w.samples for w in decode_windows(jfk, window_seconds=60, max_duration=BIG)]
    )


def write_wav(path: Path, speech: AudioArray, channels: int, speaking: list[int]) -> Path:
    """A plain PCM WAV (no channel mask: the channels' order is unknown) with ``speech`` in the
    ``speaking`` channels and silence in the others."""
    pcm = np.zeros((len(speech), channels), dtype="<i2")
    pcm[:, speaking] = (np.clip(speech, -1, 1) * 32767).astype("<i2")[:, None]
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm.tobytes())
    return path


def transcribe(transcriber: Transcriber, path: Path) -> str:
    media = probe(path, max_bytes=BIG, max_duration=BIG)
    return transcriber.transcribe(media, TINY).text


@pytest.mark.parametrize(
    ("channels", "speaking"),
    [(64, list(range(64))), (64, [0]), (3, [2])],
    ids=["64-all", "64-first", "3-last"],
)
def test_channels_of_unknown_order_are_all_heard(
    transcriber: Transcriber,
    jfk_mono: AudioArray,
    jfk_text: str,
    tmp_path: Path,
    channels: int,
    speaking: list[int],
) -> None:
    """64 channels were refused as corrupt; the third of 3 was taken for an LFE and dropped."""
    path = write_wav(tmp_path / f"{channels}ch.wav", jfk_mono, channels, speaking)
    assert words_of(transcribe(transcriber, path)) == words_of(jfk_text)


@pytest.mark.parametrize(("layout", "speaker"), [("5.1", "FC"), ("7.1", "FL")])
def test_surround_layouts_are_downmixed(
    transcriber: Transcriber, media: Path, jfk_text: str, tmp_path: Path, layout: str, speaker: str
) -> None:
    path = tmp_path / f"{layout}.wav"
    ffmpeg("-i", str(media / "jfk.flac"), "-af", f"pan={layout}|{speaker}=0.5*c0+0.5*c1", str(path))
    assert words_of(transcribe(transcriber, path)) == words_of(jfk_text)
