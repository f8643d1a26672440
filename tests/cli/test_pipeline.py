"""Pipelines through the CLI: ``--pipeline``, ``trax refine``, ``show --versions``, ``export
--version`` and ``trax diff`` on a real recording and the real ``tiny.en``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from trax.cli import main

from .test_transcribe import words_of


def trax(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def versions(transcript_id: str) -> list[dict[str, Any]]:
    shown = trax("show", transcript_id, "--versions", "--json")
    assert shown.exit_code == 0, shown.output
    listed: list[dict[str, Any]] = json.loads(shown.stdout)
    return listed


def test_v3_stores_a_version_chain_and_reuses_what_is_stored(
    cli_env: Path, tmp_path: Path, media: Path, jfk_text: str
) -> None:
    out = tmp_path / "out"
    result = trax("transcribe", media / "jfk.flac", "--model", "tiny.en", "--pipeline", "v3",
                  "--output-dir", out, "--report", tmp_path / "report.json")  # fmt: skip
    assert result.exit_code == 0, result.output
    (row,) = json.loads((tmp_path / "report.json").read_text())["inputs"]
    transcript_id = row["transcript_id"]

    chain = versions(transcript_id)
    assert [(v["version"], v["stage"], v["parent_version"]) for v in chain] == [
        (1, "basic", None),
        (2, "multipass", 1),
    ]
    basic, refined = chain
    assert basic["options"]["model"] == "tiny.en"
    assert refined["options"]["beam_size"] >= 1
    assert {"faster-whisper", "ctranslate2"} <= set(refined["engine"])
    assert refined["wall_seconds"] is not None
    assert refined["cpu_seconds"] is not None
    # The exports are of the pipeline's last version.
    exported = json.loads((out / "jfk.json").read_text())
    assert exported["provenance"]["stage"] == "multipass"
    assert exported["provenance"]["parent_version"] == 1

    again = trax("transcribe", media / "jfk.flac", "--model", "tiny.en", "--pipeline", "v3",
                 "--output-dir", out)  # fmt: skip
    assert again.exit_code == 0, again.output
    assert "cached" in again.stderr
    reused = trax("refine", transcript_id[:8], "--stage", "multipass", "--from-version", "1")
    assert reused.exit_code == 0, reused.output
    assert "reused v2" in reused.stderr
    assert len(versions(transcript_id)) == 2

    older = trax("export", transcript_id[:8], "--version", "1", "--format", "json")
    assert older.exit_code == 0, older.output
    assert json.loads(older.stdout)["provenance"]["stage"] == "basic"
    assert words_of(trax("export", transcript_id[:8], "--format", "txt").stdout) == words_of(
        jfk_text
    )
    missing = trax("export", transcript_id[:8], "--version", "9")
    assert missing.exit_code != 0
    assert "has no version 9" in missing.stderr

    compared = trax("diff", transcript_id[:8], "1", "2", "--json")
    assert compared.exit_code == 0, compared.output
    changes = json.loads(compared.stdout)
    assert (changes["a"], changes["b"], changes["words_a"]) == (1, 2, len(words_of(jfk_text)))
    assert "v1 → v2" in trax("diff", transcript_id[:8], "1", "2").stdout


def test_bad_pipelines_stages_and_options_are_refused_naming_them(
    cli_env: Path, media: Path
) -> None:
    cases = [
        (("transcribe", media / "jfk.flac", "--pipeline", "v9"), "pipeline: unknown pipeline"),
        (("transcribe", media / "jfk.flac", "--pipeline", "v2"),
         "pipeline: the enhanced stage needs a chat API"),
        (("refine", "0000", "--stage", "basic"), "stage: basic is the first transcription"),
        (("refine", "0000", "--stage", "nope"), "stage: unknown stage 'nope'"),
        (("refine", "0000", "--stage", "multipass", "--option", "beam_size=99"),
         "options.beam_size: must be between 1 and 10"),
        (("refine", "0000", "--stage", "multipass", "--option", "colour=blue"),
         "options.colour: unknown option"),
        (("refine", "0000", "--stage", "multipass"), "no transcript with id"),
    ]  # fmt: skip
    for args, message in cases:
        result = trax(*args)
        assert result.exit_code != 0, args
        assert message in result.stderr, (args, result.stderr)


def test_v3_drops_words_written_on_no_speech_and_diff_shows_why(
    cli_env: Path, tmp_path: Path, derived: dict[str, Path]
) -> None:
    """Speech played backwards: the first pass writes (looping) words there, multipass finds the
    region is not speech and drops them; ``trax diff`` shows the words removed and why."""
    out = tmp_path / "out"
    result = trax("transcribe", derived["reversed"], "--model", "base", "--pipeline", "v3",
                  "--output-dir", out, "--report", tmp_path / "report.json")  # fmt: skip
    assert result.exit_code == 0, result.output
    (row,) = json.loads((tmp_path / "report.json").read_text())["inputs"]
    assert (out / "reversed.txt").read_text().strip() == ""
    first = trax("export", row["transcript_id"], "--version", "1", "--format", "txt")
    assert len(words_of(first.stdout)) > 10

    shown = trax("diff", row["transcript_id"][:8], "1", "2")
    assert shown.exit_code == 0, shown.output
    assert "0 words now" in shown.stdout
    assert "- " in shown.stdout
    assert "dropped" in shown.stdout
    assert "repetition" in shown.stdout
