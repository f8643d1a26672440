"""Render speed: captions burned into a 5-minute 720p video, as times real time.

Builds the input from the shared recordings with the bundled FFmpeg: FFmpeg's moving test
pattern (``testsrc2``, so x264 has real motion to encode, unlike a flat colour) at 1280x720,
25 fps, with ``--seconds`` of speech (the shared recordings joined and repeated) as AAC. The
video is transcribed once with ``tiny.en`` (not timed), then rendered the way a render job
does (:mod:`trax.renders.burn`: inspect, ASS by pysubs2, FFmpeg with libass and x264, audio
copied), once per style, plus FFmpeg re-encoding the same video without captions (the floor).

    uv run python bench/render.py --seconds 300 --json render.json

Reports wall seconds and speed (media seconds per wall second: 10x renders 5 minutes in 30 s).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import anyio

from trax.captions.ass import build_ass
from trax.captions.styles import resolve_style
from trax.engine.asr import EngineConfig, Transcriber
from trax.engine.audio import probe
from trax.engine.models import LoadOptions
from trax.engine.options import TranscribeOptions
from trax.engine.result import TranscriptDocument
from trax.renders import burn

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"
SOURCES = ("sample.wav", "jfk.flac", "hotwords.mp3", "multilingual.mp3")


def ffmpeg(*args: str) -> None:
    cmd = [burn.ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args]
    subprocess.run(cmd, check=True)


def make_video(out: Path, seconds: float, size: str) -> Path:
    """``seconds`` of the shared speech over a moving test pattern, H.264 + AAC."""
    inputs = [a for name in SOURCES for a in ("-i", str(MEDIA / name))]
    chain = "".join(
        f"[{i}:a]aresample=44100,aformat=channel_layouts=stereo[a{i}];" for i in range(len(SOURCES))
    )
    joined = "".join(f"[a{i}]" for i in range(len(SOURCES)))
    speech = out / "speech.flac"
    ffmpeg(*inputs, "-filter_complex", f"{chain}{joined}concat=n={len(SOURCES)}:v=0:a=1",
           str(speech))  # fmt: skip
    video = out / "talk.mp4"
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=s={size}:r=25:d={seconds}",
           "-stream_loop", "-1", "-i", str(speech), "-t", str(seconds),
           "-c:v", "libx264", "-preset", "veryfast", "-c:a", "aac", "-b:a", "128k",
           str(video))  # fmt: skip
    return video


def transcribe(video: Path, cache: Path) -> TranscriptDocument:
    transcriber = Transcriber(EngineConfig(model_cache_dir=cache, load=LoadOptions(cpu_threads=2)))
    media = probe(video, max_bytes=10**11, max_duration=10**6)
    return transcriber.transcribe(media, TranscribeOptions(model="tiny.en", language="en"))


def render(video: Path, doc: TranscriptDocument, style_name: str | None, work: Path) -> float:
    """Seconds one render takes (``style_name`` None: the same encode without captions)."""
    folder = work / (style_name or "none")
    folder.mkdir()
    style = resolve_style(style_name)
    source = burn.inspect(video, video.name, style)
    burn.prepare(folder, build_ass(doc, style, source.width, source.height))
    cmd = burn.command(source, style)
    if style_name is None:
        at = cmd.index("-vf")
        del cmd[at : at + 2]
    started = time.perf_counter()
    anyio.run(burn.burn, cmd, folder, source.duration, video.name, lambda f: None, lambda: None)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--styles", default="classic,karaoke,boxed,social")
    parser.add_argument("--json", type=Path, help="Also write the results here.")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="trax-render-bench-"))
    try:
        video = make_video(work, args.seconds, args.size)
        doc = transcribe(video, work / "models")
        results = []
        for name in [None, *args.styles.split(",")]:
            wall = render(video, doc, name, work)
            row = {"style": name or "(no captions)", "wall_seconds": round(wall, 2),
                   "speed_x_realtime": round(args.seconds / wall, 2)}  # fmt: skip
            results.append(row)
            print(f"{row['style']:>14}: {wall:7.1f} s  {row['speed_x_realtime']:5.2f}x real time")
        report = {"seconds": args.seconds, "size": args.size, "x264_preset": burn.X264_PRESET,
                  "words": len(doc.words), "results": results}  # fmt: skip
        if args.json:
            args.json.write_text(json.dumps(report, indent=2) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
