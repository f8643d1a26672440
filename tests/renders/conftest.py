"""Media for render tests, made from the shared recordings with the bundled FFmpeg: a small
coloured video whose first 2.5 s are silent (no captions there), then jfk's sentence; and its
transcript by the real model (tiny.en)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from trax.engine.asr import Transcriber
from trax.engine.audio import probe
from trax.engine.options import TranscribeOptions
from trax.engine.result import TranscriptDocument

from ..conftest import ffmpeg

#: The video's background colour (RGB) and size; speech starts after SILENCE seconds.
BACKGROUND = (32, 64, 96)
SIZE = (320, 180)
SILENCE = 2.5
TINY = TranscribeOptions(model="tiny.en", language="en")


@pytest.fixture(scope="session")
def talk(tmp_path_factory: pytest.TempPathFactory, media: Path) -> dict[str, Path]:
    """``video``: 13.5 s, 320x180, AAC audio; ``short_video``: its video stream stops at 5 s
    while the audio goes on; ``audio``: the same sound as FLAC, without video."""
    out = tmp_path_factory.mktemp("talk")
    colour = "0x{:02x}{:02x}{:02x}".format(*BACKGROUND)
    delay = int(SILENCE * 1000)
    sound = ["-i", str(media / "jfk.flac"), "-af", f"adelay={delay}:all=1"]
    files = {
        "video": out / "talk.mp4",
        "short_video": out / "short.mp4",
        "audio": out / "talk.flac",
    }
    ffmpeg("-f", "lavfi", "-i", f"color=c={colour}:s={SIZE[0]}x{SIZE[1]}:r=25:d=13.5", *sound,
           "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest",
           str(files["video"]))  # fmt: skip
    ffmpeg("-f", "lavfi", "-i", f"color=c={colour}:s={SIZE[0]}x{SIZE[1]}:r=25:d=5", *sound,
           "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
           str(files["short_video"]))  # fmt: skip
    ffmpeg(*sound, str(files["audio"]))
    return files


@pytest.fixture(scope="session")
def talk_transcript(transcriber: Transcriber, talk: dict[str, Path]) -> TranscriptDocument:
    media = probe(talk["video"], max_bytes=10**9, max_duration=10**5)
    return transcriber.transcribe(media, TINY)


def frame_at(path: Path, seconds: float) -> np.ndarray:
    """The RGB frame shown at ``seconds`` (decoded with PyAV)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        container.seek(0)
        shown = None
        for frame in container.decode(stream):
            if frame.time is not None and frame.time > seconds + 1e-3:
                break
            shown = frame
        assert shown is not None
        return np.asarray(shown.to_ndarray(format="rgb24"), dtype=np.int32)


def differing(frame: np.ndarray, colour: tuple[int, int, int], tolerance: int = 60) -> int:
    """How many pixels of ``frame`` are not ``colour`` (summed channel distance)."""
    return int((np.abs(frame - np.array(colour)).sum(axis=2) > tolerance).sum())


def near(frame: np.ndarray, colour: tuple[int, int, int], tolerance: int = 90) -> np.ndarray:
    """The (row, column) of pixels close to ``colour``."""
    return np.argwhere(np.abs(frame - np.array(colour)).sum(axis=2) < tolerance)
