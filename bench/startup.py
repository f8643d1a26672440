"""How long the command line takes to start: ``trax --help`` and ``trax list``, run many times.

Runs the installed ``trax`` (the same interpreter as this script) ``--runs`` times per command
on a fresh data directory (migrated once beforehand, so every timed run finds the schema current;
``--transcripts N`` adds N transcript rows so that ``trax list`` prints a real table). Prints the
wall time (min, median, max) and the CPU time (user + system, median) of the child processes, and
the load average, because other processes on the machine make the wall time wander.

Byte-code: run ``uv run python -m compileall -q .venv/lib src`` first (uv installs packages
without byte-code, and ``PYTHONDONTWRITEBYTECODE`` stops Python writing it); the first run of
each command is a warm-up and is not counted.

Usage: ``uv run python bench/startup.py [--runs 20] [--transcripts 50]``. Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

COMMANDS = (("--help",), ("list",))


@dataclass(frozen=True)
class Timing:
    command: str
    wall_min: float
    wall_median: float
    wall_max: float
    cpu_median: float

    def line(self) -> str:
        return (
            f"trax {self.command:8} wall min {self.wall_min * 1e3:5.0f} ms  median "
            f"{self.wall_median * 1e3:5.0f} ms  max {self.wall_max * 1e3:5.0f} ms  "
            f"CPU median {self.cpu_median * 1e3:5.0f} ms"
        )


def run_once(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``cmd``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def measure(args: tuple[str, ...], env: dict[str, str], runs: int) -> Timing:
    cmd = [str(Path(sys.executable).with_name("trax")), *args]
    run_once(cmd, env)  # warm-up: the page cache, and the byte-code if it was missing
    walls, cpus = zip(*(run_once(cmd, env) for _ in range(runs)), strict=True)
    return Timing(
        " ".join(args),
        min(walls),
        statistics.median(walls),
        max(walls),
        statistics.median(cpus),
    )


async def add_transcripts(count: int) -> None:
    """``count`` small transcripts in the data directory of this process's settings."""
    from trax.config import get_settings
    from trax.media.models import Media
    from trax.runtime import open_runtime
    from trax.transcripts.models import Transcript, TranscriptVersion

    async with open_runtime(get_settings()) as rt, rt.db.session() as s:
        for i in range(count):
            media = Media(sha256=f"{i:064x}", filename=f"clip{i:03d}.flac", size_bytes=1,
                          duration=10.0, format_name="flac", audio_codec="flac",
                          storage_key=f"media/{i}")  # fmt: skip
            s.add(media)
            await s.flush()
            transcript = Transcript(media_id=media.id, recipe_key=f"{i:064x}")
            s.add(transcript)
            await s.flush()
            s.add(TranscriptVersion(transcript_id=transcript.id, version=1, stage="transcribe",
                                    model="tiny.en", language="en", duration=10.0,
                                    text=f"transcript number {i} " * 20,
                                    preview=f"transcript number {i} " * 3,
                                    document=document(30.0)))  # fmt: skip


def document(seconds: float) -> dict[str, object]:
    """A valid transcript document of ``seconds`` of speech: 5 s segments of 12 timed words."""
    segments = []
    for n in range(int(seconds // 5)):
        words = [{"start": n * 5 + k * 0.4, "end": n * 5 + k * 0.4 + 0.3, "text": " word",
                  "probability": 0.9} for k in range(12)]  # fmt: skip
        segments.append({"id": n, "start": n * 5.0, "end": n * 5.0 + 5, "text": " word" * 12,
                         "avg_logprob": -0.2, "no_speech_prob": 0.01, "words": words})  # fmt: skip
    provenance = {"stage": "basic", "model": "tiny.en", "options": {}, "engine": {}}
    return {"language": "en", "language_probability": 0.99, "duration": seconds,
            "segments": segments, "provenance": provenance}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--transcripts", type=int, default=50, help="rows for `trax list`")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="trax-bench-startup-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRAX_")}
        env["TRAX_DATA_DIR"] = str(Path(tmp) / "data")
        os.environ["TRAX_DATA_DIR"] = env["TRAX_DATA_DIR"]
        asyncio.run(add_transcripts(args.transcripts))  # also migrates the new database
        print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()}, {args.runs} runs each")
        for command in COMMANDS:
            print(measure(command, env, args.runs).line(), flush=True)
        print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
