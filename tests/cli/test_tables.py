"""Tables in an 80-column terminal: every column stays, long names are cut with an ellipsis."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from ..conftest import copy_media
from .test_transcribe import trax

LONG_NAME = "quarterly-all-hands-meeting-recording-with-the-whole-engineering-department.flac"


def at_80_columns(*args: str) -> str:
    """Run the real ``trax`` in a subprocess, as in a terminal of 80 columns."""
    env = {**os.environ, "COLUMNS": "80", "LINES": "50", "TERM": "xterm"}
    code = "from trax.cli import main; main()"
    cmd = [sys.executable, "-c", code, *args]
    out = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def check_table(text: str, headers: tuple[str, ...]) -> None:
    lines = text.splitlines()
    too_long = [line for line in lines if len(line) > 80]
    assert not too_long, "\n".join(too_long)
    header = next(line for line in lines if line.strip())
    assert re.split(r"[\s│┃]+", header.strip()) == list(headers), header
    assert "…" in text, "a long file name is cut with an ellipsis"
    assert not any("department" in line for line in lines), "a name never wraps onto a new line"


def test_list_and_jobs_fit_80_columns(cli_env: Path, media: Path, tmp_path: Path) -> None:
    long = copy_media(media / "jfk.flac", tmp_path / "in", LONG_NAME)
    bad = tmp_path / "in" / LONG_NAME.replace(".flac", ".txt")
    bad.write_text("not media: this job fails with a long error message naming the whole path")
    result = trax("transcribe", long, bad, "--model", "tiny.en", "--format", "txt",
                  "--output-dir", tmp_path / "out")  # fmt: skip
    assert result.exit_code == 1, result.output

    listed = at_80_columns("list")
    check_table(listed, ("id", "created", "file", "lang", "dur", "model", "v", "text"))
    assert "quarterly" in listed

    jobs = at_80_columns("jobs")
    check_table(jobs, ("id", "status", "progress", "tries", "source", "transcript", "error"))
    assert "quarterly" in jobs
    assert "succeeded" in jobs
    assert "failed" in jobs
