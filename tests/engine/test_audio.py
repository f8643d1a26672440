"""Probing and decoding real media: containers, bad input, bounded windows."""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from trax import errors
from trax.engine.audio import (
    SAMPLE_RATE,
    decode_ranges,
    decode_windows,
    is_media,
    probe,
    sha256_file,
)

BIG = 10**10
LONG = 10**6


def probe_ok(path: Path) -> object:
    return probe(path, max_bytes=BIG, max_duration=LONG)


@pytest.mark.parametrize(
    ("name", "fmt", "seconds"),
    [("jfk.flac", "flac", 11.0), ("apollo11.mp3", "mp3", 89.2), ("sample.wav", "wav", 30.0)],
)
def test_probe_reads_real_recordings(media: Path, name: str, fmt: str, seconds: float) -> None:
    p = probe(media / name, max_bytes=BIG, max_duration=LONG)
    assert p.format_name == fmt
    assert p.duration == pytest.approx(seconds, abs=0.1)
    assert not p.has_video


def test_probe_reads_audio_inside_a_video_container(derived: dict[str, Path]) -> None:
    p = probe(derived["video"], max_bytes=BIG, max_duration=LONG)
    assert p.has_video
    assert p.audio_codec == "aac"
    assert p.duration == pytest.approx(11.0, abs=0.2)


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("text", errors.NOT_MEDIA),
        ("garbage", errors.NOT_MEDIA),
        ("empty", errors.EMPTY_FILE),
        ("mute_video", errors.NO_AUDIO),
    ],
)
def test_bad_input_names_the_file_and_the_reason(
    derived: dict[str, Path], key: str, reason: str
) -> None:
    with pytest.raises(errors.MediaError) as info:
        probe_ok(derived[key])
    assert str(derived[key]) in str(info.value)
    assert info.value.reason == reason


def test_missing_paths_and_directories(tmp_path: Path) -> None:
    with pytest.raises(errors.MediaError, match=re.escape(errors.NOT_FOUND)):
        probe_ok(tmp_path / "nope.wav")
    with pytest.raises(errors.MediaError, match=re.escape(errors.NOT_A_FILE)):
        probe_ok(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file: permissions not enforced")
def test_unreadable_file(tmp_path: Path, media: Path) -> None:
    locked = tmp_path / "locked.flac"
    shutil.copyfile(media / "jfk.flac", locked)
    locked.chmod(0)
    with pytest.raises(errors.MediaError, match=re.escape(errors.NOT_READABLE)):
        probe_ok(locked)


def test_oversize_and_overlong_files_are_refused_before_decoding(media: Path) -> None:
    jfk = media / "jfk.flac"
    with pytest.raises(errors.MediaTooLargeError, match="over the 1000-byte limit"):
        probe(jfk, max_bytes=1000, max_duration=LONG)
    with pytest.raises(errors.MediaTooLargeError, match="over the 5 s limit"):
        probe(jfk, max_bytes=BIG, max_duration=5)


def test_truncated_file_fails_while_decoding(derived: dict[str, Path]) -> None:
    p = probe_ok(derived["truncated"])
    with pytest.raises(errors.MediaError, match=r"corrupt or truncated media \(decoded"):
        list(decode_windows(p, window_seconds=600, max_duration=LONG))  # type: ignore[arg-type]


def test_windows_cover_the_whole_file_in_bounded_pieces(derived: dict[str, Path]) -> None:
    p = probe_ok(derived["long"])
    windows = list(decode_windows(p, window_seconds=40, max_duration=LONG))  # type: ignore[arg-type]
    assert len(windows) >= 3
    assert all(w.duration <= 40 for w in windows)
    assert all(w.duration >= 40 * 0.85 for w in windows[:-1])  # cut near the end only
    for a, b in itertools.pairwise(windows):
        assert b.offset == pytest.approx(a.offset + a.duration)
    total = sum(len(w.samples) for w in windows) / SAMPLE_RATE
    assert total == pytest.approx(p.duration, abs=0.2)  # type: ignore[attr-defined]


def test_is_media_judges_content_not_extension(tmp_path: Path, media: Path) -> None:
    disguised = tmp_path / "recording.dat"
    shutil.copyfile(media / "jfk.flac", disguised)
    fake = tmp_path / "song.mp3"
    fake.write_text("not audio at all")
    assert is_media(disguised)
    assert not is_media(fake)


def test_sha256_is_streamed_and_exact(media: Path) -> None:
    path = media / "apollo11.mp3"
    assert sha256_file(path, chunk_bytes=4096) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_ranges_hold_exactly_the_samples_of_the_windows(media: Path) -> None:
    p = probe(media / "multilingual.mp3", max_bytes=BIG, max_duration=LONG)
    whole = np.concatenate([w.samples for w in decode_windows(p, window_seconds=7,
                                                              max_duration=LONG)])  # fmt: skip
    ranges = [(0.0, 1.0), (1.0, 1.5), (10.3, 40.7), (59.0, 70.0), (80.0, 81.0)]
    got = list(decode_ranges(p, ranges, max_duration=LONG))
    assert len(got) == len(ranges)
    for (start, end), audio in zip(ranges, got, strict=True):
        expected = whole[round(start * SAMPLE_RATE) : round(end * SAMPLE_RATE)]
        assert np.array_equal(audio, expected)
    assert len(got[-1]) == 0  # past the end
