"""Burning captions into video with the FFmpeg that ships in ``imageio-ffmpeg`` (libass, x264).

Plain library code: no database, no web. :func:`burn` runs FFmpeg as a child process (async,
``anyio.open_process``), turns its ``-progress`` output into a fraction for ``report``, calls
``check`` every quarter second (it raises to stop: a cancelled job, the time limit), and kills
FFmpeg whenever it does not finish normally. The caller owns the folder it works in.

FFmpeg runs in that folder, which holds the ASS script and a link to the bundled fonts, so the
``subtitles`` filter gets two plain relative names (no filter-graph escaping of paths) and finds
its fonts through ``fontsdir`` even where fontconfig knows no font at all: libass otherwise draws
nothing and FFmpeg still exits 0.

The audio stream is copied, never re-encoded; video is re-encoded with x264 (the captions are
part of the picture). Audio without video gets a coloured frame of the style's size.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import anyio
import anyio.abc
import av
from anyio.streams.text import TextReceiveStream

from trax import errors
from trax.captions.styles import FONTS_DIR, RenderStyle

ASS_NAME, FONTS_LINK, OUTPUT_NAME = "captions.ass", "fonts", "render.mp4"
#: x264 speed/size trade-off and quality (constant rate factor: lower is better, 23 default).
X264_PRESET = "veryfast"
X264_CRF = 20
BACKGROUND_FPS = 25
#: A video may be this much (or this share) longer or shorter than its transcript.
DURATION_TOLERANCE_S = 1.0
DURATION_TOLERANCE_SHARE = 0.02
CHECK_SECONDS = 0.25
_STDERR_TAIL = 2000
_NO_SPACE = "No space left on device"

FFMPEG_FAILED = "{name}: FFmpeg could not render the captions (exit code {code}): {detail}"
DURATION_MISMATCH = (
    "{name}: the video is {video:.1f} s long but the transcript covers {transcript:.1f} s; "
    "render a transcript of this video"
)
NO_STREAMS = "{name}: has no audio stream to keep"


class RenderError(errors.TraxError):
    """FFmpeg failed on this input: it will fail the same way again."""

    code = "render_failed"
    http_status = 422


class RenderInterruptedError(RenderError):
    """FFmpeg was killed by a signal we did not send (out of memory, an operator): try again."""

    code = "render_interrupted"
    permanent = False


class DurationMismatchError(errors.TraxError):
    """The video and the transcript are of different lengths: captions would be out of place."""

    code = "duration_mismatch"
    http_status = 422


@dataclass(frozen=True)
class Source:
    """What the render needs to know about the media: its video (if any) and duration."""

    path: Path
    has_video: bool
    width: int
    height: int
    #: The video stream's duration (the audio's when there is no video), seconds.
    duration: float


def inspect(path: Path, name: str, style: RenderStyle) -> Source:
    """Read the media's streams (blocks). Audio without video gets the style's frame size."""
    with av.open(str(path)) as container:
        video = next(iter(container.streams.video), None)
        audio = next(iter(container.streams.audio), None)
        if audio is None:
            raise RenderError(NO_STREAMS.format(name=name))
        total = container.duration / av.time_base if container.duration else 0.0
        if video is not None:
            width, height = video.codec_context.width, video.codec_context.height
            return Source(path, True, width, height, _seconds(video) or total)
        return Source(path, False, style.width, style.height, _seconds(audio) or total)


def _seconds(stream: av.stream.Stream) -> float | None:
    if stream.duration is None or stream.time_base is None:
        return None
    return float(stream.duration * stream.time_base)


def check_duration(source: Source, transcript_seconds: float, name: str) -> None:
    """Refuse a video whose length disagrees with the transcript's."""
    if not source.has_video:
        return
    allowed = max(DURATION_TOLERANCE_S, DURATION_TOLERANCE_SHARE * transcript_seconds)
    if abs(source.duration - transcript_seconds) > allowed:
        raise DurationMismatchError(DURATION_MISMATCH.format(
            name=name, video=source.duration, transcript=transcript_seconds))  # fmt: skip


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def prepare(workdir: Path, ass: str) -> None:
    """Write the script and link the bundled fonts into ``workdir`` (blocks)."""
    (workdir / ASS_NAME).write_text(ass, encoding="utf-8")
    (workdir / FONTS_LINK).symlink_to(FONTS_DIR, target_is_directory=True)


def command(source: Source, style: RenderStyle, output: str = OUTPUT_NAME) -> list[str]:
    """The FFmpeg command line, run in the work folder; progress goes to stdout."""
    subtitles = f"subtitles=filename={ASS_NAME}:fontsdir={FONTS_LINK}"
    if source.width % 2 or source.height % 2:
        subtitles = f"scale=trunc(iw/2)*2:trunc(ih/2)*2,{subtitles}"
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
           "-progress", "pipe:1", "-nostats"]  # fmt: skip
    if source.has_video:
        cmd += ["-i", str(source.path), "-map", "0:v:0", "-map", "0:a:0"]
    else:
        colour = style.background_colour.lstrip("#")[:6]
        background = (f"color=c=0x{colour}:s={source.width}x{source.height}"
                      f":r={BACKGROUND_FPS}:d={source.duration:.3f}")  # fmt: skip
        cmd += ["-f", "lavfi", "-i", background, "-i", str(source.path),
                "-map", "0:v:0", "-map", "1:a:0", "-shortest"]  # fmt: skip
    cmd += ["-vf", subtitles, "-c:v", "libx264", "-preset", X264_PRESET, "-crf", str(X264_CRF),
            "-pix_fmt", "yuv420p", "-c:a", "copy", "-movflags", "+faststart", "-f", "mp4",
            output]  # fmt: skip
    return cmd


async def burn(
    cmd: list[str],
    workdir: Path,
    duration: float,
    name: str,
    report: Callable[[float], None],
    check: Callable[[], None],
) -> Path:
    """Run ``cmd`` in ``workdir`` to the end; returns the output file. ``report`` gets the share
    done (0 to 1); ``check`` is called every :data:`CHECK_SECONDS` and, like ``report``, may raise
    to stop. FFmpeg is killed on every way out but its own end."""
    stderr: list[str] = []
    failure: list[Exception] = []
    async with await anyio.open_process(cmd, cwd=workdir) as process:
        try:
            async with anyio.create_task_group() as tg:

                async def guarded(step: Callable[[], Awaitable[object]]) -> None:
                    try:
                        await step()
                    except Exception as exc:  # re-raised below, unwrapped from the task groups
                        failure.append(_first(exc))
                    tg.cancel_scope.cancel()

                tg.start_soon(guarded, lambda: _watch(check))
                tg.start_soon(guarded, lambda: _run_to_end(process, duration, report, stderr))
        finally:
            if process.returncode is None:
                process.kill()
                with anyio.CancelScope(shield=True):
                    await process.wait()
    if failure:
        raise failure[0]
    code = process.returncode
    if code != 0:
        detail = "".join(stderr).strip()[-_STDERR_TAIL:] or "no message"
        if _NO_SPACE in detail:
            raise errors.StorageFullError(errors.STORAGE_FULL.format(detail=_NO_SPACE))
        error = RenderInterruptedError if code is not None and code < 0 else RenderError
        raise error(FFMPEG_FAILED.format(name=name, code=code, detail=detail))
    return workdir / cmd[-1]


def _first(exc: Exception) -> Exception:
    while isinstance(exc, ExceptionGroup):
        exc = exc.exceptions[0]
    return exc


async def _run_to_end(
    process: anyio.abc.Process, duration: float, report: Callable[[float], None], stderr: list[str]
) -> None:
    """Read both outputs to their ends, then wait for FFmpeg to exit."""
    async with anyio.create_task_group() as tg:
        tg.start_soon(_drain, process, stderr)
        await _progress(process, duration, report)
    await process.wait()


async def _progress(
    process: anyio.abc.Process, duration: float, report: Callable[[float], None]
) -> None:
    """Read ``key=value`` lines: ``out_time_us`` is how far the output has got."""
    assert process.stdout is not None
    buffer = ""
    async for chunk in TextReceiveStream(process.stdout):
        buffer += chunk
        *lines, buffer = buffer.split("\n")
        for line in lines:
            key, _, value = line.strip().partition("=")
            if key == "out_time_us" and value.lstrip("-").isdigit() and duration > 0:
                done = int(value) / 1e6 / duration
                if math.isfinite(done):
                    report(min(max(done, 0.0), 1.0))


async def _drain(process: anyio.abc.Process, into: list[str]) -> None:
    assert process.stderr is not None
    async for chunk in TextReceiveStream(process.stderr):
        into.append(chunk)


async def _watch(check: Callable[[], None]) -> None:
    while True:
        check()
        await anyio.sleep(CHECK_SECONDS)
