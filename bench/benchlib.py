"""Helpers shared by the benchmark scripts: test media built from the shared recordings, and
child processes measured for wall time and peak RSS.

Benchmarks are not tests and CI never runs them; see ``bench/README.md``.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 16_000
#: The project's real recordings (``../shared/media`` from the project root). Never copied.
MEDIA_DIR = Path(__file__).resolve().parents[2] / "shared" / "media"
RECORDINGS = (
    "jfk.flac",
    "apollo11.mp3",
    "multilingual.mp3",
    "sample.wav",
    "hotwords.mp3",
    "stereo_diarization.wav",
)
MB = 1024 * 1024
TIMES = "\N{MULTIPLICATION SIGN}"
MEASURE_SCRIPT = Path(__file__).with_name("_measure.py")

Audio = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Measured:
    """One finished child process: how long it ran, its peak RSS and what it printed."""

    wall_seconds: float
    peak_rss_mb: float
    returncode: int
    stdout: str
    stderr: str
    #: User + system CPU seconds of the process (all its threads).
    cpu_seconds: float = 0.0

    def check(self, what: str) -> Measured:
        """Return self, or stop the benchmark with the child's error output."""
        if self.returncode != 0:
            tail = "\n".join(self.stderr.strip().splitlines()[-20:])
            raise SystemExit(f"{what} failed (exit {self.returncode}):\n{tail}")
        return self


@dataclass(frozen=True)
class Run:
    """One timed transcription run: what it was, its wall time, peak RSS and words produced."""

    kind: str
    wall_seconds: float
    peak_rss_mb: float
    words: int
    cpu_seconds: float = 0.0
    #: Word error rate against the input's reference text, when it has one.
    wer: float | None = None


def load_recordings(media_dir: Path = MEDIA_DIR) -> list[Audio]:
    """Every shared recording decoded (PyAV, via faster-whisper) to 16 kHz mono float32."""
    from faster_whisper import decode_audio

    return [decode_audio(str(media_dir / name), sampling_rate=SAMPLE_RATE) for name in RECORDINGS]


def repeat_to(clips: Sequence[Audio], seconds: float) -> Iterator[Audio]:
    """The clips in order, over and over, the last one cut so that the total lasts ``seconds``."""
    remaining = round(seconds * SAMPLE_RATE)
    for clip in itertools.cycle(clips):
        if remaining <= 0:
            return
        piece = clip[:remaining]
        remaining -= len(piece)
        yield piece


def encode(path: Path, chunks: Iterable[Audio], codec: str, bit_rate: int | None = None) -> float:
    """Stream-encode 16 kHz mono chunks into ``path`` (container chosen by its suffix).

    Chunks are encoded as they come, so the whole audio is never in memory. Returns the seconds
    of audio written.
    """
    samples = 0
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=SAMPLE_RATE, layout="mono")
        if not isinstance(stream, av.AudioStream):
            raise ValueError(f"{codec} is not an audio codec")
        if bit_rate:
            stream.bit_rate = bit_rate
        for chunk in chunks:
            frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="flt", layout="mono")
            frame.sample_rate = SAMPLE_RATE
            out.mux(stream.encode(frame))
            samples += len(chunk)
        out.mux(stream.encode(None))
    return samples / SAMPLE_RATE


def run_measured(
    cmd: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> Measured:
    """Run ``cmd`` to its end in a fresh process, through the small ``_measure.py`` launcher.

    The launcher reports the child's own peak RSS from ``os.wait4``; see its docstring for why the
    child is not measured from this (larger) process directly.
    """
    with (
        tempfile.TemporaryDirectory(prefix="trax-bench-run-") as tmp,
        tempfile.TemporaryFile("w+") as out,
        tempfile.TemporaryFile("w+") as err,
    ):
        result = Path(tmp) / "result.json"
        launcher = [sys.executable, "-S", str(MEASURE_SCRIPT), str(result), *cmd]
        subprocess.run(launcher, stdout=out, stderr=err, env=env, cwd=cwd, check=False)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
        if not result.is_file():
            raise SystemExit(f"could not run {cmd[0]}:\n{stderr}")
        measured = json.loads(result.read_text(encoding="utf-8"))
    return Measured(
        measured["wall_seconds"],
        measured["peak_rss_kb"] / 1024,
        measured["returncode"],
        stdout,
        stderr,
        measured.get("cpu_seconds", 0.0),
    )


def self_command(script: str, *args: str) -> list[str]:
    """Re-run a benchmark script (``__file__``) in a fresh interpreter with ``args``."""
    return [sys.executable, str(Path(script).resolve()), *args]


def trax_command(media: Path, model: str, output_dir: Path) -> list[str]:
    """The installed ``trax`` CLI transcribing ``media`` to JSON in ``output_dir``."""
    trax = Path(sys.executable).with_name("trax")
    return [
        str(trax),
        *("transcribe", str(media), "--model", model),
        *("--format", "json", "--output-dir", str(output_dir)),
    ]


def child_env(pycache: Path | None = None) -> dict[str, str]:
    """This process's environment for a child; with ``pycache``, bytecode is cached there.

    With ``PYTHONDONTWRITEBYTECODE`` set, modules without an installed ``.pyc`` (Trax's own, in an
    editable install) are compiled again in every process; a private ``PYTHONPYCACHEPREFIX``
    avoids that without writing ``__pycache__`` directories into the project.
    """
    env = dict(os.environ)
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def trax_env(
    base: Mapping[str, str], data_dir: Path, model_cache_dir: Path, **settings: object
) -> dict[str, str]:
    """The environment for one Trax run: its own data dir and embedded database, shared models.

    ``settings`` are extra Trax settings, e.g. ``cpu_threads=2`` becomes ``TRAX_CPU_THREADS=2``.
    """
    env = {k: v for k, v in base.items() if k != "TRAX_DATABASE_URL"}
    env["TRAX_DATA_DIR"] = str(data_dir)
    env["TRAX_MODEL_CACHE_DIR"] = str(model_cache_dir)
    env.update({f"TRAX_{name.upper()}": str(value) for name, value in settings.items()})
    return env


def json_word_count(path: Path) -> int:
    """Words in a Trax JSON transcript export."""
    document = json.loads(path.read_text(encoding="utf-8"))
    return sum(len(segment["words"]) for segment in document["segments"])


def json_text(path: Path) -> str:
    """The plain text of a Trax JSON transcript export."""
    document = json.loads(path.read_text(encoding="utf-8"))
    return " ".join(segment["text"].strip() for segment in document["segments"])


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate after Whisper's English normaliser (dev dependencies jiwer and
    whisper-normalizer, as in bench/multipass.py)."""
    import jiwer
    from whisper_normalizer.english import EnglishTextNormalizer

    normalize = EnglishTextNormalizer()
    return float(jiwer.wer(normalize(reference), normalize(hypothesis)))


def model_location(name: str) -> tuple[str, Path]:
    """Where Trax loads model ``name`` from, and its model cache dir.

    Resolving assembles ``base`` into the cache on first use, so call this before timing anything.
    """
    from trax.config import get_settings
    from trax.engine.models import resolve

    cache_dir = get_settings().model_cache_dir
    return resolve(name, cache_dir).location, cache_dir


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = [headers, ["---"] * len(headers), *rows]
    return "\n".join("| " + " | ".join(str(cell) for cell in line) + " |" for line in lines)


def verdict(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def save_json(path: Path, payload: object) -> None:
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"results saved to {path}")
