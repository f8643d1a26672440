"""What a new CLI user tripped over, and the rules the CLI shares with the API."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from trax.cli import main


def trax(*args: str | Path) -> object:
    return CliRunner().invoke(main, [str(a) for a in args])


def test_two_identical_files_in_one_batch_give_one_transcript_and_no_traceback(
    cli_env: Path, media: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = tmp_path / "inbox"
    for folder in ("a", "b"):
        (inbox / folder).mkdir(parents=True)
        shutil.copyfile(media / "jfk.flac", inbox / folder / "x.flac")
    monkeypatch.chdir(tmp_path)
    out = trax("transcribe", "inbox", "--model", "tiny.en", "--format", "txt", "--output-dir", "o")
    assert out.exit_code == 0, out.output  # type: ignore[attr-defined]
    text = out.output  # type: ignore[attr-defined]
    assert "Traceback" not in text
    assert "inbox/a/x.flac" in text
    assert "inbox/b/x.flac" in text
    assert "2 succeeded, 0 failed" in text
    listed = trax("list", "--json")
    assert listed.output.count('"id"') == 1  # type: ignore[attr-defined]
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["x-2.txt", "x.txt"]


def test_options_are_checked_like_the_api_checks_them(cli_env: Path, media: Path) -> None:
    unknown = trax("transcribe", media / "jfk.flac", "--model", "tiny.en", "--language", "xx")
    assert unknown.exit_code == 2  # type: ignore[attr-defined]
    assert "language: unknown language code 'xx'" in unknown.stderr  # type: ignore[attr-defined]
    english_only = trax("transcribe", media / "jfk.flac", "--model", "tiny.en", "--language", "de")
    assert english_only.exit_code == 2  # type: ignore[attr-defined]
    assert "English-only" in english_only.stderr  # type: ignore[attr-defined]
    upper = trax("transcribe", media / "jfk.flac", "--model", "tiny.en", "--language", "EN",
                 "--format", "txt", "--output-dir", cli_env / "out")  # fmt: skip
    assert upper.exit_code == 0, upper.output  # type: ignore[attr-defined]


def test_delete_removes_the_transcript_its_media_and_the_stored_file(
    cli_env: Path, media: Path
) -> None:
    done = trax("transcribe", media / "jfk.flac", "--model", "tiny.en", "--format", "txt",
                "--output-dir", cli_env / "out")  # fmt: skip
    assert done.exit_code == 0, done.output  # type: ignore[attr-defined]
    stored = [p for p in (cli_env / "media").rglob("*") if p.is_file()]
    assert len(stored) == 1
    listed = trax("list", "--json").output  # type: ignore[attr-defined]
    transcript_id = listed.split('"id": "')[1][:8]
    gone = trax("delete", transcript_id)
    assert gone.exit_code == 0, gone.output  # type: ignore[attr-defined]
    assert "deleted" in gone.stderr  # type: ignore[attr-defined]
    assert not stored[0].exists()
    assert trax("list", "--json").output.strip() == "[]"  # type: ignore[attr-defined]
    again = trax("delete", transcript_id)
    assert again.exit_code == 1  # type: ignore[attr-defined]
    assert "no transcript" in again.stderr  # type: ignore[attr-defined]
