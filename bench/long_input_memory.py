"""Peak memory on a long input: Trax's windowed decoding against holding the whole audio.

Builds a long input by repeating the shared recordings (stream-encoded, never whole in memory):
Opus in Ogg lasting ``--hours``, or with ``--size-mb`` a 16 kHz mono WAV of about that size. Then
measures, each in its own fresh process:

* ``import``: ``import faster_whisper`` alone (the interpreter and library baseline);
* ``decode_audio``: ``faster_whisper.decode_audio(file)``, what the naive approach costs just to
  hold the audio;
* ``trax``: the installed ``trax transcribe`` CLI (fresh data dir, JSON export).

Usage: ``uv run python bench/long_input_memory.py [--hours 2] [--model tiny.en]``
       ``uv run python bench/long_input_memory.py --size-mb 500 [--model tiny.en]``
Not a test; see bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import benchlib

MEMORY_BAR_MB = 4 * 1024
OPUS_BIT_RATE = 32_000
#: Bytes per second of 16 kHz mono s16 PCM, and the header ffmpeg's WAV muxer writes.
WAV_BYTES_PER_SECOND = benchlib.SAMPLE_RATE * 2
WAV_HEADER_BYTES = 78
#: Rough end-to-end real-time factors on a 2-core machine, for the up-front estimate only.
ASSUMED_RTF = {"tiny.en": 15.0, "base": 7.0}


@dataclass(frozen=True)
class Run:
    kind: str
    wall_seconds: float
    peak_rss_mb: float
    detail: str


# --- child side ----------------------------------------------------------------------------


def child_main(argv: list[str]) -> None:
    """``--_child import`` or ``--_child decode FILE``."""
    from faster_whisper import decode_audio

    if argv[0] == "decode":
        audio = decode_audio(argv[1])
        print(json.dumps({"seconds": len(audio) / benchlib.SAMPLE_RATE}))


# --- parent side ---------------------------------------------------------------------------


def target_seconds(args: argparse.Namespace) -> float:
    if args.size_mb is None:
        return float(args.hours * 3600)
    return float(args.size_mb * benchlib.MB - WAV_HEADER_BYTES) / WAV_BYTES_PER_SECOND


def build_input(path: Path, seconds: float, media_dir: Path) -> float:
    chunks = benchlib.repeat_to(benchlib.load_recordings(media_dir), seconds)
    if path.suffix == ".wav":
        return benchlib.encode(path, chunks, "pcm_s16le")
    return benchlib.encode(path, chunks, "libopus", bit_rate=OPUS_BIT_RATE)


def print_plan(seconds: float, args: argparse.Namespace) -> None:
    """What is about to happen and roughly how long it takes; warns when Trax will refuse it."""
    from trax.config import get_settings

    settings = get_settings()
    rtf = args.assume_rtf or ASSUMED_RTF.get(args.model, 5.0)
    print(
        f"input: {seconds / 3600:.2f} h of audio; transcribing it with {args.model} should take "
        f"about {seconds / rtf / 60:.1f} min "
        f"(assuming {rtf:g}{benchlib.TIMES} real time; see --assume-rtf)"
    )
    if seconds > settings.max_duration_seconds:
        print(f"warning: over Trax's duration limit ({settings.max_duration_seconds:.0f} s)")
    if args.size_mb is not None and args.size_mb * benchlib.MB > settings.max_file_bytes:
        print(f"warning: over Trax's size limit ({settings.max_file_bytes} bytes)")


def run_decode(media: Path) -> Run:
    cmd = benchlib.self_command(__file__, "--_child", "decode", str(media))
    done = benchlib.run_measured(cmd).check("decode_audio")
    seconds = json.loads(done.stdout.strip().splitlines()[-1])["seconds"]
    held_mb = seconds * benchlib.SAMPLE_RATE * 4 / benchlib.MB
    detail = f"{seconds:.0f} s decoded ({held_mb:.0f} MB as float32)"
    return Run("decode_audio", done.wall_seconds, done.peak_rss_mb, detail)


def run_import() -> Run:
    cmd = benchlib.self_command(__file__, "--_child", "import")
    done = benchlib.run_measured(cmd).check("import faster_whisper")
    return Run("import", done.wall_seconds, done.peak_rss_mb, "baseline")


def run_trax(media: Path, seconds: float, tmp: Path, args: argparse.Namespace) -> Run:
    _, cache_dir = benchlib.model_location(args.model)  # assembles base before measuring
    settings = {"cpu_threads": args.threads} if args.threads else {}
    env = benchlib.trax_env(benchlib.child_env(), tmp / "data", cache_dir, **settings)
    out = tmp / "out"
    done = benchlib.run_measured(benchlib.trax_command(media, args.model, out), env=env, cwd=tmp)
    done.check("trax transcribe")
    words = benchlib.json_word_count(out / f"{media.stem}.json")
    detail = f"{words} words, {seconds / done.wall_seconds:.1f}{benchlib.TIMES} real time"
    return Run("trax", done.wall_seconds, done.peak_rss_mb, detail)


def report(runs: list[Run], media: Path, seconds: float, args: argparse.Namespace) -> str:
    """Print the table and the verdict line; returns the verdict line."""
    size_mb = media.stat().st_size / benchlib.MB
    kind = media.suffix[1:]
    print(f"\n{kind} input: {seconds / 3600:.2f} h, {size_mb:.1f} MB; model {args.model}")
    headers = ("run", "wall s", "peak RSS MB", "detail")
    rows = [(r.kind, f"{r.wall_seconds:.1f}", f"{r.peak_rss_mb:.0f}", r.detail) for r in runs]
    print(benchlib.markdown_table(headers, rows) + "\n")
    trax = runs[-1]
    line = (
        f"Trax peak RSS {trax.peak_rss_mb:.0f} MB (bar: under {MEMORY_BAR_MB} MB) "
        f"{benchlib.verdict(trax.peak_rss_mb < MEMORY_BAR_MB)}"
    )
    print(line)
    return line


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--hours", type=float, default=2.0, help="Opus input of this length")
    length.add_argument("--size-mb", type=float, help="instead, a WAV of about this many MiB")
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--threads", type=int, help="Trax's TRAX_CPU_THREADS (default: its own)")
    parser.add_argument("--assume-rtf", type=float, help="real-time factor for the estimate")
    parser.add_argument("--media-dir", type=Path, default=benchlib.MEDIA_DIR)
    parser.add_argument("--json", type=Path, help="also save the results to this file")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    print_plan(target_seconds(args), args)
    with tempfile.TemporaryDirectory(prefix="trax-bench-") as tmp_name:
        tmp = Path(tmp_name)
        media = tmp / ("long.wav" if args.size_mb is not None else "long.ogg")
        print("building the input…", flush=True)
        seconds = build_input(media, target_seconds(args), args.media_dir)
        print("measuring: import, decode_audio, trax…", flush=True)
        runs = [run_import(), run_decode(media), run_trax(media, seconds, tmp, args)]
        line = report(runs, media, seconds, args)
        size_bytes = media.stat().st_size
    if args.json:
        payload = {
            "model": args.model,
            "audio_seconds": seconds,
            "input": {"format": media.suffix[1:], "bytes": size_bytes},
            "runs": [asdict(r) for r in runs],
            "verdict": line,
        }
        benchlib.save_json(args.json, payload)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--_child"]:
        child_main(sys.argv[2:])
    else:
        main()
