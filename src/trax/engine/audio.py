"""Media probing and bounded-memory decoding with PyAV.

Audio is decoded to 16 kHz mono float32 and handed out in windows of about ``window_seconds``,
cut at the quietest moment near the window's end, so that a multi-hour file never sits in memory
as a whole (faster-whisper's ``decode_audio`` would hold all of it).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import av.error
import numpy as np
import numpy.typing as npt

from trax import errors

SAMPLE_RATE = 16_000
#: ffmpeg demuxers that "open" plain text or still images: not media for us.
_NON_MEDIA_FORMATS = frozenset({"tty", "image2", "png_pipe", "jpeg_pipe", "webp_pipe", "svg_pipe"})
_TRUNCATION_TOLERANCE = 0.9
_CUT_SEARCH_FRACTION = 0.15
_CUT_FRAME_SECONDS = 0.05

AudioArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class MediaProbe:
    """What a media file holds, read from its container without decoding it."""

    path: Path
    size_bytes: int
    format_name: str
    duration: float | None
    audio_codec: str
    sample_rate: int
    channels: int
    has_video: bool
    #: How errors name the file: the path the user gave, even when decoding a stored copy.
    label: str = ""

    @property
    def name(self) -> str:
        return self.label or str(self.path)


@dataclass(frozen=True)
class AudioWindow:
    """A stretch of decoded audio and where it starts in the media (seconds)."""

    offset: float
    samples: AudioArray

    @property
    def duration(self) -> float:
        return len(self.samples) / SAMPLE_RATE


def check_file(path: Path, max_bytes: int) -> int:
    """Fail fast on a path that cannot be media; returns the size in bytes."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise errors.MediaError(path, errors.NOT_FOUND) from None
    except PermissionError:
        raise errors.MediaError(path, errors.NOT_READABLE) from None
    if not path.is_file():
        raise errors.MediaError(path, errors.NOT_A_FILE)
    if not os.access(path, os.R_OK):
        raise errors.MediaError(path, errors.NOT_READABLE)
    if st.st_size == 0:
        raise errors.MediaError(path, errors.EMPTY_FILE)
    if st.st_size > max_bytes:
        reason = errors.TOO_LARGE.format(size=st.st_size, limit=max_bytes)
        raise errors.MediaTooLargeError(path, reason)
    return st.st_size


def probe(path: Path, *, max_bytes: int, max_duration: float) -> MediaProbe:
    """Open ``path`` by its content and describe its best audio stream.

    Raises :class:`~trax.errors.MediaError` naming the file and the reason.
    """
    size = check_file(path, max_bytes)
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            fmt = container.format.name
            if fmt in _NON_MEDIA_FORMATS:
                raise errors.MediaError(path, errors.NOT_MEDIA)
            if not container.streams.audio:
                raise errors.MediaError(path, errors.NO_AUDIO)
            stream = container.streams.audio[0]
            duration = _duration_of(container, stream)
            result = MediaProbe(
                path=path,
                size_bytes=size,
                format_name=fmt,
                duration=duration,
                audio_codec=stream.codec_context.name,
                sample_rate=stream.codec_context.sample_rate or 0,
                channels=stream.codec_context.channels or 0,
                has_video=bool(container.streams.video),
            )
    except errors.MediaError:
        raise
    except PermissionError:
        raise errors.MediaError(path, errors.NOT_READABLE) from None
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError):
        raise errors.MediaError(path, errors.NOT_MEDIA) from None
    if duration is not None and duration > max_duration:
        reason = errors.TOO_LONG.format(seconds=duration, limit=max_duration)
        raise errors.MediaTooLargeError(path, reason)
    return result


def _duration_of(container: av.container.InputContainer, stream: av.AudioStream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def decode_windows(
    media: MediaProbe, *, window_seconds: float, max_duration: float
) -> Iterator[AudioWindow]:
    """Decode ``media`` to 16 kHz mono float32, yielding windows of about ``window_seconds``.

    Each window but the last is cut at the quietest point of its final stretch, so that words are
    rarely split between windows. Memory stays around two windows whatever the file's length:
    samples go straight into a window-sized buffer, not into a list of the decoder's small
    frames joined at the end (that took twice the window and left the heap fragmented).
    """
    window = int(window_seconds * SAMPLE_RATE)
    buffer = np.empty(window, dtype=np.float32)
    filled = 0
    offset = 0
    for chunk in _decode_chunks(media, max_duration):
        used = 0
        while used < len(chunk):
            taken = min(len(chunk) - used, window - filled)
            buffer[filled : filled + taken] = chunk[used : used + taken]
            filled += taken
            used += taken
            if filled < window:
                continue
            cut = _quiet_cut(buffer, window)
            # The window is a view of the buffer (no copy); the next one starts in a new buffer
            # with what followed the cut.
            yield AudioWindow(offset=offset / SAMPLE_RATE, samples=buffer[:cut])
            offset += cut
            rest = buffer[cut:]
            buffer = np.empty(window, dtype=np.float32)
            buffer[: len(rest)] = rest
            filled = len(rest)
            del rest
    if filled:
        yield AudioWindow(offset=offset / SAMPLE_RATE, samples=buffer[:filled])


def decode_ranges(
    media: MediaProbe, ranges: Sequence[tuple[float, float]], *, max_duration: float
) -> Iterator[AudioArray]:
    """The 16 kHz mono audio of each ``(start, end)`` range in seconds, in order.

    ``ranges`` must be sorted and must not overlap. The file is streamed once, as by
    :func:`decode_windows`, and only the samples inside a range are kept: memory is bounded by the
    longest range, and the samples are exactly those the windows held.
    """
    bounds = [(round(a * SAMPLE_RATE), round(b * SAMPLE_RATE)) for a, b in ranges]
    if not bounds:
        return
    index, position = 0, 0
    kept: list[AudioArray] = []
    for chunk in _decode_chunks(media, max_duration):
        end_of_chunk = position + len(chunk)
        while index < len(bounds):
            first, last = bounds[index]
            if first < end_of_chunk and last > position:
                kept.append(chunk[max(first - position, 0) : last - position])
            if last > end_of_chunk:
                break
            yield _joined(kept)
            index, kept = index + 1, []
        if index == len(bounds):
            return
        position = end_of_chunk
    for _ in range(index, len(bounds)):  # ranges past the end of the audio
        yield _joined(kept)
        kept = []


def _joined(parts: list[AudioArray]) -> AudioArray:
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def _decode_chunks(media: MediaProbe, max_duration: float) -> Iterator[AudioArray]:
    """Decoded, resampled audio in the decoder's own chunk sizes."""
    path, name = media.path, media.name
    limit = int(max_duration * SAMPLE_RATE)
    total = 0
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            stream = container.streams.audio[0]
            stream.codec_context.thread_type = "AUTO"
            mono = _Mono(stream.codec_context.layout)
            for packet in container.demux(stream):
                for frame in _decode_packet(packet):
                    for samples in mono.convert(frame):
                        total += len(samples)
                        if total > limit:
                            reason = errors.TOO_LONG.format(
                                seconds=total / SAMPLE_RATE, limit=max_duration
                            )
                            raise errors.MediaTooLargeError(name, reason)
                        yield samples
            for samples in mono.convert(None):
                total += len(samples)
                yield samples
    except av.error.FFmpegError as exc:
        raise errors.MediaError(name, f"{errors.CORRUPT} ({exc.strerror})") from None
    _check_complete(media, total / SAMPLE_RATE)


class _Mono:
    """Frames of any channel layout to 16 kHz mono float32; ``None`` flushes.

    A layout whose channels ffmpeg can name (stereo, 5.1, 7.1 …) gets ffmpeg's standard downmix.
    Channels in an unknown order (a WAV without a channel mask, a microphone array) are averaged
    with equal weights here: libswresample either guesses a layout for them (3 channels become
    2.1, whose third channel is the LFE it drops: speech there is lost) or, when there is no
    standard layout of that size (9, 64 …), refuses to build a downmix matrix at all.
    """

    def __init__(self, layout: av.AudioLayout) -> None:
        unordered = layout.nb_channels > 2 and any(c.name == "NONE" for c in layout.channels)
        self._channels = layout.nb_channels if unordered else 0
        # Interleaved, because PyAV reads only the first 8 planes of a planar frame.
        self._packed = av.AudioResampler(format="flt") if unordered else None
        self._resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)

    def convert(self, frame: av.AudioFrame | None) -> Iterator[AudioArray]:
        for mono in self._averaged(frame):
            for out in self._resampler.resample(mono):
                yield out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
        if frame is None:
            for out in self._resampler.resample(None):
                yield out.to_ndarray().reshape(-1).astype(np.float32, copy=False)

    def _averaged(self, frame: av.AudioFrame | None) -> list[av.AudioFrame]:
        if self._packed is None:
            return [] if frame is None else [frame]
        return [self._average(packed) for packed in self._packed.resample(frame)]

    def _average(self, frame: av.AudioFrame) -> av.AudioFrame:
        samples = frame.to_ndarray().reshape(-1, self._channels)
        mono = av.AudioFrame.from_ndarray(
            samples.mean(axis=1, dtype=np.float32)[None, :], format="flt", layout="mono"
        )
        mono.sample_rate, mono.pts, mono.time_base = frame.sample_rate, frame.pts, frame.time_base
        return mono


def _decode_packet(packet: av.Packet[av.AudioStream]) -> list[av.AudioFrame]:
    """Decode one packet; a damaged packet is skipped rather than failing the whole file."""
    try:
        return packet.decode()
    except av.error.InvalidDataError:
        return []


def _check_complete(media: MediaProbe, decoded_seconds: float) -> None:
    if decoded_seconds == 0:
        raise errors.MediaError(media.name, f"{errors.CORRUPT} (no audio could be decoded)")
    declared = media.duration
    if declared and decoded_seconds < declared * _TRUNCATION_TOLERANCE:
        detail = f"decoded {decoded_seconds:.1f} s of {declared:.1f} s"
        raise errors.MediaError(media.name, f"{errors.CORRUPT} ({detail})")


def _quiet_cut(audio: AudioArray, window: int) -> int:
    """The sample index of the quietest short frame in the last stretch before ``window``."""
    frame = int(_CUT_FRAME_SECONDS * SAMPLE_RATE)
    start = int(window * (1 - _CUT_SEARCH_FRACTION))
    region = audio[start:window]
    n = len(region) // frame
    if n == 0:
        return window
    energy = np.square(region[: n * frame].reshape(n, frame)).mean(axis=1)
    quietest = int(np.argmin(energy))
    return start + quietest * frame + frame // 2


def sha256_file(path: Path, chunk_bytes: int = 1 << 20) -> str:
    """Streamed SHA-256 of a file: constant memory whatever its size."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk_bytes):
            digest.update(block)
    return digest.hexdigest()


def is_media(path: Path) -> bool:
    """Whether ``path`` holds audio PyAV can read, judged by content (for directory scans)."""
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            return container.format.name not in _NON_MEDIA_FORMATS and bool(container.streams.audio)
    except (av.error.FFmpegError, OSError, UnicodeDecodeError, ValueError):
        return False
