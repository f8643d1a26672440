"""What ``trax transcribe`` and ``trax jobs retry`` tell the user about inputs that did not work."""

from __future__ import annotations

import json
from pathlib import Path

from trax import errors

from ..conftest import copy_media
from .test_transcribe import trax


def test_skipped_files_are_named_with_the_reason(
    cli_env: Path, tmp_path: Path, media: Path, derived: dict[str, Path]
) -> None:
    inbox = tmp_path / "inbox"
    copy_media(media / "jfk.flac", inbox)
    readme = inbox / "README.md"
    readme.write_text("not media: skipped inside directories")
    mute = copy_media(derived["mute_video"], inbox / "video")
    report = tmp_path / "report.json"

    result = trax("transcribe", inbox, "--model", "tiny.en", "--format", "txt",
                  "--output-dir", tmp_path / "out", "--report", report)  # fmt: skip

    assert result.exit_code == 0, result.output
    assert f"skipped {readme}: {errors.NOT_MEDIA}" in result.stderr
    assert f"skipped {mute}: {errors.NO_AUDIO}" in result.stderr
    written = json.loads(report.read_text())
    assert written["skipped"] == [
        {"input": str(readme), "reason": errors.NOT_MEDIA},
        {"input": str(mute), "reason": errors.NO_AUDIO},
    ]
    assert [row["input"] for row in written["inputs"]] == [str(inbox / "jfk.flac")]


def test_retry_says_why_the_job_failed_again(cli_env: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes.mp3"
    notes.write_text("meeting notes, not a recording")
    first = trax("transcribe", notes, "--model", "tiny.en", "--output-dir", tmp_path / "out")
    assert first.exit_code == 1
    message = f"{notes}: {errors.NOT_MEDIA}"
    assert f"error: {message}" in first.stderr

    (job,) = json.loads(trax("jobs", "--json").stdout)
    for args in ([job["id"][:8]], ["--failed"]):
        again = trax("jobs", "retry", *args)
        assert again.exit_code == 1
        assert f"error: {message}" in again.stderr, again.stderr
        assert "0 succeeded, 1 failed" in again.stderr
