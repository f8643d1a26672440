"""The diarized stage through the CLI on a real two-speaker call: speakers in every export,
``trax speakers`` and renaming, and a failed stage that leaves the transcript as it was."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from trax.config import get_settings
from trax.engine import diarization

from .test_pipeline import trax, versions


def test_diarized_exports_speakers_and_rename_shows_everywhere(
    cli_env: Path, tmp_path: Path, media: Path
) -> None:
    out = tmp_path / "out"
    result = trax("transcribe", media / "sample.wav", "--model", "tiny.en", "--output-dir", out,
                  "--report", tmp_path / "report.json")  # fmt: skip
    assert result.exit_code == 0, result.output
    (row,) = json.loads((tmp_path / "report.json").read_text())["inputs"]
    tid = row["transcript_id"]
    refined = trax("refine", tid, "--stage", "diarized", "--option", "max_speakers=3")
    assert refined.exit_code == 0, refined.output
    assert [(v["version"], v["stage"]) for v in versions(tid)] == [(1, "basic"), (2, "diarized")]

    doc = json.loads(trax("export", tid, "--format", "json").stdout)
    assert {s["speaker"] for s in doc["segments"]} == {"Speaker 1", "Speaker 2"}
    for seg in doc["segments"]:  # a segment never holds two speakers
        assert {w["speaker"] for w in seg["words"]} == {seg["speaker"]}

    vtt = trax("export", tid, "--format", "vtt").stdout
    cues = [c for c in vtt.split("\n\n") if "-->" in c]
    assert cues
    assert all(len(re.findall(r"<v [^>]+>", c)) == 1 for c in cues)  # one voice per cue
    srt = trax("export", tid, "--format", "srt", "--no-speaker-labels").stdout
    assert "[Speaker" not in srt
    assert "<v" not in srt
    txt = trax("export", tid, "--format", "txt").stdout
    assert txt.startswith("Speaker 1: ")
    assert "\n\nSpeaker 2: " in txt
    rttm = trax("export", tid, "--format", "rttm").stdout.splitlines()
    assert {line.split()[7] for line in rttm} == {"Speaker_1", "Speaker_2"}

    listed = trax("speakers", tid, "--json")
    assert listed.exit_code == 0, listed.output
    talk = json.loads(listed.stdout)
    assert [s["name"] for s in talk["speakers"]] == ["Speaker 1", "Speaker 2"]
    assert all(s["seconds"] > 2 for s in talk["speakers"])

    renamed = trax("speakers", tid, "rename", "Speaker 1", "Ada")
    assert renamed.exit_code == 0, renamed.output
    assert "Ada" in renamed.stdout
    assert versions(tid)[-1]["stage"] == "speakers"
    vtt = trax("export", tid, "--format", "vtt").stdout
    assert "<v Ada>" in vtt
    assert "Speaker 1" not in vtt
    assert "[Ada] " in trax("export", tid, "--format", "srt").stdout
    missing = trax("speakers", tid, "rename", "Speaker 9", "Bob")
    assert missing.exit_code == 2
    assert "Speaker 9" in missing.output


def test_a_damaged_model_fails_the_stage_and_keeps_the_transcript(
    cli_env: Path, tmp_path: Path, media: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    for name in (diarization.SEGMENTATION_FILE, diarization.EMBEDDING_FILE):
        shutil.copyfile(diarization.BUNDLED_DIR / name, models / name)
    (models / diarization.SEGMENTATION_FILE).write_bytes(b"not an onnx file")
    report = tmp_path / "report.json"
    result = trax("transcribe", media / "jfk.flac", "--model", "tiny.en",
                  "--output-dir", tmp_path / "out", "--report", report)  # fmt: skip
    assert result.exit_code == 0, result.output
    (row,) = json.loads(report.read_text())["inputs"]
    tid = row["transcript_id"]
    monkeypatch.setenv("TRAX_DIARIZATION_MODEL_DIR", str(models))
    get_settings.cache_clear()
    failed = trax("refine", tid, "--stage", "diarized")
    assert failed.exit_code != 0
    assert "damaged" in failed.output
    assert [(v["version"], v["stage"]) for v in versions(tid)] == [(1, "basic")]
    shown = trax("export", tid, "--format", "txt")
    assert "ask not what your country" in shown.stdout.lower()
