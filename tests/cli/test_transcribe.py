"""``trax transcribe`` and the library commands, end to end through the real CLI."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest
import srt
import webvtt
from click.testing import CliRunner, Result

from trax.cli import main

from ..conftest import copy_media


def trax(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def words_of(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def check_captions(srt_text: str, vtt_text: str) -> None:
    subs = list(srt.parse(srt_text))
    cues = webvtt.from_string(vtt_text).captions
    assert subs
    assert len(subs) == len(cues)
    for sub in subs:
        lines = sub.content.split("\n")
        assert len(lines) <= 2
        assert all(len(line) <= 42 for line in lines)
        assert (sub.end - sub.start).total_seconds() <= 7.0
    for a, b in itertools.pairwise(subs):
        assert a.end <= b.start


def test_directory_in_exports_out(
    cli_env: Path, tmp_path: Path, media: Path, jfk_text: str
) -> None:
    inbox = tmp_path / "inbox"
    copy_media(media / "jfk.flac", inbox)
    copy_media(media / "apollo11.mp3", inbox / "nested", "radio.bin")  # media by content
    (inbox / "nested" / "README.md").write_text("not media: skipped inside directories")
    out = tmp_path / "out"

    result = trax("transcribe", inbox, "--model", "tiny.en", "--output-dir", out)

    assert result.exit_code == 0, result.output
    assert "skipped 1 non-media file" in result.stderr
    assert "2 succeeded, 0 failed" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "jfk.json", "jfk.srt", "jfk.txt", "jfk.vtt",
        "radio.json", "radio.srt", "radio.txt", "radio.vtt",
    ]  # fmt: skip
    assert words_of((out / "jfk.txt").read_text()) == words_of(jfk_text)
    for stem in ("jfk", "radio"):
        check_captions((out / f"{stem}.srt").read_text(), (out / f"{stem}.vtt").read_text())
    doc = json.loads((out / "jfk.json").read_text())
    assert doc["schema_version"] == "1.2"
    assert doc["segments"][0]["words"][0]["text"].strip() == "And"


def test_library_commands_read_what_was_stored(cli_env: Path, tmp_path: Path, media: Path) -> None:
    out = tmp_path / "out"
    assert trax("transcribe", media / "jfk.flac", "--model", "tiny.en", "--format", "txt",
                "--output-dir", out).exit_code == 0  # fmt: skip
    assert trax("transcribe", media / "hotwords.mp3", "--model", "tiny.en", "--format", "srt",
                "--output-dir", out).exit_code == 0  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == ["hotwords.srt", "jfk.txt"]

    listed = json.loads(trax("list", "--json").stdout)
    assert [t["filename"] for t in listed] == ["hotwords.mp3", "jfk.flac"], "newest first"
    jfk_id = listed[1]["id"]
    assert "jfk.flac" in trax("list").stdout

    shown = json.loads(trax("show", jfk_id[:8], "--json").stdout)
    assert shown["id"] == jfk_id
    assert shown["document"]["language"] == "en"
    assert "fellow Americans" in trax("show", jfk_id).stdout

    exported = trax("export", jfk_id, "--format", "vtt", "--max-line-chars", "20").stdout
    assert exported.startswith("WEBVTT")
    assert all(len(c.text.split("\n")[0]) <= 20 for c in webvtt.from_string(exported).captions)
    target = tmp_path / "jfk-copy.srt"
    assert trax("export", jfk_id, "--output", target).exit_code == 0
    assert list(srt.parse(target.read_text()))

    missing = trax("show", "does-not-exist")
    assert missing.exit_code == 1
    assert "no transcript with id 'does-not-exist'" in missing.stderr


def test_bad_inputs_fail_alone_and_say_why(
    cli_env: Path, tmp_path: Path, media: Path, derived: dict[str, Path]
) -> None:
    bad = [derived[k] for k in ("text", "empty", "truncated", "garbage", "mute_video")]
    missing = tmp_path / "missing.wav"
    out = tmp_path / "out"

    result = trax("transcribe", *bad, media / "jfk.flac", missing, "--model", "tiny.en",
                  "--format", "srt", "--output-dir", out)  # fmt: skip

    assert result.exit_code == 1
    assert [p.name for p in out.iterdir()] == ["jfk.srt"]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 6
    for path in [*bad, missing]:
        assert any(str(path) in line for line in errors), f"{path} not named in {errors}"
    assert "1 succeeded, 6 failed" in result.stderr
    failed = json.loads(trax("jobs", "--status", "failed", "--json").stdout)
    assert len(failed) == 6
    assert all(j["error_message"] and j["error_kind"] for j in failed)


def test_second_run_reuses_the_stored_transcript(
    cli_env: Path, tmp_path: Path, media: Path
) -> None:
    for _ in range(2):
        result = trax("transcribe", media / "hotwords.mp3", "--model", "tiny.en", "--format",
                      "json", "--output-dir", tmp_path / "out")  # fmt: skip
        assert result.exit_code == 0
    assert "cached" in result.stderr
    assert len(json.loads(trax("list", "--json").stdout)) == 1


def test_same_stem_twice_does_not_overwrite(cli_env: Path, tmp_path: Path, media: Path) -> None:
    a = copy_media(media / "jfk.flac", tmp_path / "a", "talk.flac")
    b = copy_media(media / "hotwords.mp3", tmp_path / "b", "talk.mp3")
    out = tmp_path / "out"
    result = trax("transcribe", a, b, "--model", "tiny.en", "--format", "txt", "--output-dir", out)
    assert result.exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == ["talk-2.txt", "talk.txt"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "docx"], "choose from json, txt, srt, vtt"),
        (["--language", "xx"], "unknown language code 'xx'"),
        (["--model", "/nonexistent/model/dir"], "cannot load model"),
    ],
)
def test_usage_errors_exit_2(
    cli_env: Path, media: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    result = trax("transcribe", media / "jfk.flac", "--output-dir", tmp_path, *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert not list(tmp_path.glob("*.srt"))


def test_models_lists_what_works_offline(cli_env: Path) -> None:
    models = json.loads(trax("models", "--json").stdout)
    assert [(m["name"], m["source"]) for m in models][:2] == [
        ("tiny.en", "bundled"), ("base", "assembled"),
    ]  # fmt: skip


def test_postgresql_end_to_end(
    cli_env: Path, pg_url: str, media: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trax.config import get_settings

    monkeypatch.setenv("TRAX_DATABASE_URL", pg_url)
    get_settings.cache_clear()
    not_migrated = trax("list")
    assert not_migrated.exit_code == 2
    assert "run `trax db upgrade`" in not_migrated.stderr
    assert trax("db", "upgrade").exit_code == 0
    result = trax("transcribe", media / "jfk.flac", "--model", "tiny.en", "--format", "srt",
                  "--output-dir", tmp_path / "out")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert [t["filename"] for t in json.loads(trax("list", "--json").stdout)] == ["jfk.flac"]
