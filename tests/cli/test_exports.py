"""``trax export`` and the files ``trax transcribe`` writes: formats, caption options, modes."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import srt
import webvtt

from .test_transcribe import trax


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def jfk_id(cli_env: Path, media: Path, tmp_path: Path) -> str:
    """The id of a stored transcript of jfk.flac."""
    result = trax("transcribe", media / "jfk.flac", "--model", "tiny.en", "--format", "txt",
                  "--output-dir", tmp_path / "first")  # fmt: skip
    assert result.exit_code == 0, result.output
    return str(json.loads(trax("list", "--json").stdout)[0]["id"])


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_exports_get_the_mode_the_umask_gives(
    umask_022: None, jfk_id: str, media: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = trax("transcribe", media / "jfk.flac", "--model", "tiny.en", "--format", "srt,json",
                  "--output-dir", out, "--report", tmp_path / "report.json")  # fmt: skip
    assert result.exit_code == 0, result.output
    for path in (out / "jfk.srt", out / "jfk.json", tmp_path / "report.json"):
        assert mode(path) == 0o644, f"{path}: {oct(mode(path))}"
    target = tmp_path / "copy.vtt"
    assert trax("export", jfk_id, "--format", "vtt", "--output", target).exit_code == 0
    assert mode(target) == 0o644

    os.umask(0o077)
    private = tmp_path / "private.srt"
    assert trax("export", jfk_id, "--output", private).exit_code == 0
    assert mode(private) == 0o600


def test_export_writes_several_formats_at_once(jfk_id: str, tmp_path: Path) -> None:
    out = tmp_path / "captions"
    result = trax("export", jfk_id, "--format", "srt,vtt,txt", "--output-dir", out)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["jfk.srt", "jfk.txt", "jfk.vtt"]
    assert list(srt.parse((out / "jfk.srt").read_text()))
    assert webvtt.from_string((out / "jfk.vtt").read_text()).captions
    assert "fellow Americans" in (out / "jfk.txt").read_text()
    for name in ("jfk.srt", "jfk.txt", "jfk.vtt"):
        assert str(out / name) in result.stderr

    single = tmp_path / "one.srt"
    assert trax("export", jfk_id, "--format", "srt", "--output", single).exit_code == 0
    assert list(srt.parse(single.read_text()))

    for args in (["--output", tmp_path / "x.srt"], []):
        refused = trax("export", jfk_id, "--format", "srt,vtt", *args)
        assert refused.exit_code == 2, refused.output
        assert "--output-dir" in refused.stderr
    unknown = trax("export", jfk_id, "--format", "srt,docx", "--output-dir", out)
    assert unknown.exit_code == 2
    assert "choose from" in unknown.stderr


def test_export_takes_every_caption_option(jfk_id: str) -> None:
    result = trax("export", jfk_id, "--format", "srt", "--max-line-chars", "20", "--max-lines",
                  "1", "--max-cue-seconds", "2", "--min-cue-seconds", "0.5",
                  "--pause-seconds", "0.3")  # fmt: skip
    assert result.exit_code == 0, result.output
    subs = list(srt.parse(result.stdout))
    assert len(subs) > 6
    for sub in subs:
        assert "\n" not in sub.content
        assert len(sub.content) <= 20
        assert (sub.end - sub.start).total_seconds() <= 2.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-line-chars", "5"], "max_line_chars: must be between 10 and 200"),
        (["--max-lines", "0"], "max_lines: must be between 1 and 10"),
        (["--max-cue-seconds", "0"], "max_cue_seconds: must be between"),
        (["--pause-seconds", "nan"], "pause_seconds: must be between"),
        (["--min-cue-seconds", "5", "--max-cue-seconds", "2"], "must not exceed max_cue_seconds"),
    ],
)
def test_caption_options_out_of_bounds_are_usage_errors(
    cli_env: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    """Checked before the transcript is read: the message is about the option, not the id."""
    result = trax("export", "any-id", "--output", tmp_path / "x.srt", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert not (tmp_path / "x.srt").exists()
