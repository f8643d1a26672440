"""The v2 pipeline (enhanced stage) through the CLI on a real recording, with the scripted chat
server as the LLM: versions, captions in sync, extras, costs, the budget and the cache."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import srt

from trax.config import get_settings

from ..chat_server import ChatServer
from .test_pipeline import trax, versions

PRICES = '{"test-model": [1.0, 2.0]}'


@pytest.fixture
def llm_env(cli_env: Path, chat_server: ChatServer, monkeypatch: pytest.MonkeyPatch) -> ChatServer:
    for name, value in {
        "TRAX_LLM_BASE_URL": chat_server.url,
        "TRAX_LLM_API_KEY": "sk-local",
        "TRAX_LLM_MODEL": "test-model",
        "TRAX_LLM_PRICES": PRICES,
        "TRAX_JOB_MAX_ATTEMPTS": "1",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    chat_server.fixes = {"fellow": "yellow"}
    return chat_server


def cues(transcript_id: str, version: int) -> list[srt.Subtitle]:
    out = trax("export", transcript_id[:8], "--version", str(version), "--format", "srt")
    assert out.exit_code == 0, out.output
    return list(srt.parse(out.stdout))


def test_v2_makes_an_enhanced_version_whose_captions_stay_in_sync(
    llm_env: ChatServer, tmp_path: Path, media: Path
) -> None:
    report_file = tmp_path / "report.json"
    result = trax("transcribe", media / "jfk.flac", "--model", "tiny.en", "--pipeline", "v2",
                  "--output-dir", tmp_path / "out", "--report", report_file)  # fmt: skip
    assert result.exit_code == 0, result.output
    (row,) = json.loads(report_file.read_text())["inputs"]
    transcript_id = row["transcript_id"]

    chain = versions(transcript_id)
    assert [(v["stage"], v["parent_version"]) for v in chain] == [("basic", None), ("enhanced", 1)]
    basic, enhanced = chain
    calls = len(llm_env.seen)  # one chunk + the extras
    assert enhanced["model"] == "test-model"
    assert (enhanced["prompt_tokens"], enhanced["completion_tokens"]) == (1000 * calls, 500 * calls)
    assert enhanced["llm_usd"] == pytest.approx(calls * 0.002)
    assert basic["llm_usd"] is None
    assert basic["compute_usd"] == pytest.approx(basic["cpu_seconds"] * 0.04 / 3600, abs=1e-8)

    # The enhanced captions: valid SRT, the rewritten words, on the first pass's word times.
    first, second = cues(transcript_id, 1), cues(transcript_id, 2)
    assert "yellow" in " ".join(c.content for c in second)
    assert [(c.start, c.end) for c in second] == [(c.start, c.end) for c in first]
    exported = json.loads((tmp_path / "out" / "jfk.json").read_text())
    assert exported["provenance"]["stage"] == "enhanced"
    assert exported["extras"]["summary"] == "A speech."
    assert exported["provenance"]["guard"]["kept_original"] == 0

    shown = trax("show", transcript_id[:8])
    assert shown.exit_code == 0, shown.output
    assert "summary A speech." in shown.stdout
    assert "keywords country, speech" in shown.stdout
    total = basic["compute_usd"] + enhanced["compute_usd"] + enhanced["llm_usd"]
    assert f"cost ${total:.6f} for 2 version(s)" in shown.stdout

    report = trax("costs", "--json")
    assert report.exit_code == 0, report.output
    costs: dict[str, Any] = json.loads(report.stdout)
    by_stage = {line["key"]: line for line in costs["by_stage"]}
    assert by_stage["enhanced"]["llm_usd"] == pytest.approx(calls * 0.002)
    assert {line["key"] for line in costs["by_model"]} == {"tiny.en", "test-model"}
    assert costs["by_project"][0]["key"] is None
    assert costs["total"]["total_usd"] == pytest.approx(total)
    assert "test-model" in trax("costs").stdout
    later = json.loads(trax("costs", "--since", "2999-01-01", "--json").stdout)
    assert later["total"]["versions"] == 0


def test_the_budget_and_the_cache_through_the_cli(
    llm_env: ChatServer, media: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    result = trax("transcribe", media / "jfk.flac", "--model", "tiny.en",
                  "--report", tmp_path / "report.json")  # fmt: skip
    assert result.exit_code == 0, result.output
    (row,) = json.loads((tmp_path / "report.json").read_text())["inputs"]
    transcript_id = row["transcript_id"]

    monkeypatch.setenv("TRAX_LLM_MAX_COST_USD", "0.0001")
    get_settings.cache_clear()
    over = trax("refine", transcript_id[:8], "--stage", "enhanced")
    assert over.exit_code != 0
    assert "TRAX_LLM_MAX_COST_USD" in over.output
    assert llm_env.seen == []  # stopped before any call
    assert len(versions(transcript_id)) == 1

    monkeypatch.delenv("TRAX_LLM_MAX_COST_USD")
    get_settings.cache_clear()
    made = trax("refine", transcript_id[:8], "--stage", "enhanced", "--option", "extras=false")
    assert made.exit_code == 0, made.output
    sent = len(llm_env.seen)
    # Other options of the stage, same chunks, same model and prompt: nothing is sent again.
    again = trax("refine", transcript_id[:8], "--stage", "enhanced", "--from-version", "1",
                 "--option", "extras=false", "--option", "max_new_words=0.2")  # fmt: skip
    assert again.exit_code == 0, again.output
    assert len(llm_env.seen) == sent
    chain = versions(transcript_id)
    assert [v["stage"] for v in chain] == ["basic", "enhanced", "enhanced"]
    assert chain[1]["llm_usd"] > 0
    assert chain[2]["llm_usd"] == 0.0


def test_without_a_key_the_enhanced_stage_is_refused(cli_env: Path, media: Path) -> None:
    refused = trax("refine", "0000", "--stage", "enhanced")
    assert refused.exit_code == 2
    assert "stage: the enhanced stage needs a chat API: set TRAX_LLM_API_KEY" in refused.stderr
