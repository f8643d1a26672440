"""Batch throughput: Trax's batch of many short files against a plain faster-whisper loop.

Builds ``--files`` distinct short inputs (2-15 s, cut at different places from the shared
recordings and transcoded to FLAC, MP3, Ogg/Opus, WAV and M4A so that each has its own bytes),
then runs, each in a fresh process with the same model and threads:

* ``loop-batched``: one model, ``BatchedInferencePipeline.transcribe`` per file (faster-whisper's
  fastest configuration, which batches only within one file);
* ``loop-plain``: one model, ``WhisperModel.transcribe`` per file;
* ``trax``: ``trax transcribe DIR`` (embedded default: in-process worker pool whose jobs' speech
  chunks are batched together), fresh data directory, JSON export.

Usage: ``uv run python bench/batch_throughput.py [--files 100] [--model tiny.en]``
Not a test; see bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

import benchlib
import numpy as np

FORMATS = (("flac", "flac"), ("mp3", "libmp3lame"), ("ogg", "libopus"), ("wav", "pcm_s16le"),
           ("m4a", "aac"))  # fmt: skip
BAR = 1.5


def build_inputs(folder: Path, count: int, seed: int) -> float:
    """``count`` distinct clips of 2-15 s; returns their total duration in seconds."""
    rng = np.random.default_rng(seed)
    clips = benchlib.load_recordings()
    total = 0.0
    for i in range(count):
        source = clips[i % len(clips)]
        seconds = min(float(rng.uniform(2, 15)), len(source) / benchlib.SAMPLE_RATE)
        length = int(seconds * benchlib.SAMPLE_RATE)
        start = int(rng.integers(0, max(1, len(source) - length)))
        suffix, codec = FORMATS[i % len(FORMATS)]
        total += benchlib.encode(
            folder / f"clip{i:03d}.{suffix}", [source[start : start + length]], codec
        )
    return total


def child_main(argv: list[str]) -> None:
    """``--_child loop-batched|loop-plain FOLDER MODEL_DIR THREADS BATCH``."""
    kind, folder, location, threads, batch = argv
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    model = WhisperModel(location, device="cpu", compute_type="int8", cpu_threads=int(threads))
    pipeline = BatchedInferencePipeline(model)
    words = 0
    for path in sorted(Path(folder).iterdir()):
        options = {"word_timestamps": True, "vad_filter": True, "beam_size": 5}
        if kind == "loop-batched":
            segments, _ = pipeline.transcribe(str(path), batch_size=int(batch), **options)
        else:
            segments, _ = model.transcribe(str(path), **options)
        words += sum(len(s.words or ()) for s in segments)
    print(json.dumps({"words": words}))


def run_loop(args: argparse.Namespace, kind: str, folder: Path, location: str) -> benchlib.Run:
    cmd = benchlib.self_command(
        __file__, "--_child", kind, str(folder), location, str(args.threads), str(args.batch_size)
    )
    done = benchlib.run_measured(cmd).check(kind)
    words = json.loads(done.stdout.strip().splitlines()[-1])["words"]
    return benchlib.Run(kind, done.wall_seconds, done.peak_rss_mb, words)


def run_trax(args: argparse.Namespace, folder: Path, cache: Path, work: Path) -> benchlib.Run:
    env = benchlib.trax_env(
        benchlib.child_env(work / "pycache"), work / "data", cache,
        cpu_threads=args.threads, batch_size=args.batch_size,
    )  # fmt: skip
    trax = str(Path(sys.executable).with_name("trax"))
    benchlib.run_measured([trax, "db", "upgrade"], env=env, cwd=work).check("trax db upgrade")
    cmd = [trax, "transcribe", str(folder), "--model", args.model, "--format", "json",
           "--output-dir", str(work / "out")]  # fmt: skip
    done = benchlib.run_measured(cmd, env=env, cwd=work).check("trax transcribe")
    words = sum(benchlib.json_word_count(p) for p in (work / "out").glob("*.json"))
    return benchlib.Run("trax", done.wall_seconds, done.peak_rss_mb, words)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--_child":
        child_main(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, help="also save the results here")
    args = parser.parse_args()
    location, cache = benchlib.model_location(args.model)
    with tempfile.TemporaryDirectory(prefix="trax-batch-") as tmp:
        folder = Path(tmp) / "inputs"
        folder.mkdir()
        audio = build_inputs(folder, args.files, args.seed)
        setup = f"model {args.model}, {args.threads} threads"
        print(f"{args.files} files, {audio:.0f} s of audio; {setup}")
        runs = [run_loop(args, "loop-batched", folder, location),
                run_loop(args, "loop-plain", folder, location),
                run_trax(args, folder, cache, Path(tmp))]  # fmt: skip
    rows = [(r.kind, f"{r.wall_seconds:.1f}", f"{audio / r.wall_seconds:.1f}{benchlib.TIMES}",
             f"{r.peak_rss_mb:.0f}", r.words) for r in runs]  # fmt: skip
    print(
        benchlib.markdown_table(("run", "wall s", "audio s / wall s", "peak RSS MB", "words"), rows)
    )
    best_loop = min(runs[:2], key=lambda r: r.wall_seconds)
    speedup = best_loop.wall_seconds / runs[2].wall_seconds
    print(f"Trax vs fastest plain loop ({best_loop.kind}): {speedup:.2f}{benchlib.TIMES} "
          f"(bar: {BAR}{benchlib.TIMES}) {benchlib.verdict(speedup >= BAR)}")  # fmt: skip
    if args.json:
        benchlib.save_json(args.json, {"audio_seconds": audio, "runs": [asdict(r) for r in runs]})


if __name__ == "__main__":
    main()
