"""``trax search``: a table of file, time, speaker and highlighted text; JSON for machines."""

from __future__ import annotations

import json
from pathlib import Path

from .test_transcribe import trax


def test_search_prints_where_words_are_said(cli_env: Path, tmp_path: Path, media: Path) -> None:
    for name in ("jfk.flac", "hotwords.mp3"):
        done = trax("transcribe", media / name, "--model", "tiny.en", "--format", "txt",
                    "--output-dir", tmp_path / "out")  # fmt: skip
        assert done.exit_code == 0, done.output

    table = trax("search", "ask not")
    assert table.exit_code == 0, table.output
    rows = [line for line in table.stdout.splitlines() if "jfk.flac" in line]
    assert len(rows) == 1
    assert "00:00:00" in rows[0]
    assert "ask not" in rows[0].lower()
    assert "hotwords.mp3" not in table.stdout
    unquoted = trax("search", "-americans", "ask", "--json")
    assert [r["filename"] for r in json.loads(unquoted.stdout)["items"]] == ["jfk.flac"]
    (only,) = json.loads(unquoted.stdout)["items"][0]["hits"]
    assert "americans" not in only["text"].lower(), "a leading - excludes, it is no option"

    page = json.loads(trax("search", "comfy OR americans", "--json", "--limit", "1").stdout)
    assert len(page["items"]) == 1
    assert page["next_cursor"]
    rest = json.loads(trax("search", "comfy OR americans", "--json",
                           "--cursor", page["next_cursor"]).stdout)  # fmt: skip
    files = {page["items"][0]["filename"], rest["items"][0]["filename"]}
    assert files == {"jfk.flac", "hotwords.mp3"}
    assert rest["next_cursor"] is None
    hit = rest["items"][0]["hits"][0]
    assert {"start", "end", "speaker", "snippet", "link"} <= hit.keys()

    assert "no matches" in trax("search", "zeppelin").stdout
    for args in (["-ask"], ["ask", "--limit", "0"], ["ask", "--stage", "nope"]):
        refused = trax("search", *args)
        assert refused.exit_code == 2, args
        assert "error:" in refused.stderr
