"""``trax transcribe`` takes the options the API takes, and stores them with the transcript."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from trax.engine.options import TranscribeOptions
from trax.transcripts.service import recipe_key

from ..conftest import ffmpeg
from .test_transcribe import trax, words_of


def stored_options(transcript_id: str) -> dict[str, Any]:
    shown = json.loads(trax("show", transcript_id, "--json").stdout)
    options: dict[str, Any] = shown["document"]["provenance"]["options"]
    return options


def test_decoding_options_are_used_and_stored(cli_env: Path, media: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    plain = trax("transcribe", media / "jfk.flac", "--model", "tiny.en", "--format", "txt",
                 "--output-dir", out)  # fmt: skip
    assert plain.exit_code == 0, plain.output
    tuned = trax("transcribe", media / "jfk.flac", "--model", "tiny.en", "--format", "txt",
                 "--output-dir", out / "tuned", "--no-vad", "--beam-size", "1",
                 "--prompt", "President Kennedy's inaugural address.",
                 "--hotwords", "Americans")  # fmt: skip
    assert tuned.exit_code == 0, tuned.output
    assert "cached" not in tuned.stderr, "other options make another transcript"

    newest, first = json.loads(trax("list", "--json").stdout)
    assert stored_options(first["id"]) == {
        "model": "tiny.en", "language": None, "task": "transcribe", "beam_size": 5, "vad": True,
        "initial_prompt": None,
    }  # fmt: skip
    assert stored_options(newest["id"]) == {
        "model": "tiny.en", "language": None, "task": "transcribe", "beam_size": 1, "vad": False,
        "initial_prompt": "President Kennedy's inaugural address.", "hotwords": "Americans",
    }  # fmt: skip
    assert "fellow americans" in " ".join(words_of((out / "tuned" / "jfk.txt").read_text()))
    jobs = json.loads(trax("jobs", "--json").stdout)
    assert {j["options"].get("hotwords") for j in jobs} == {None, "Americans"}


def test_options_stored_before_hotwords_keep_their_cache_key() -> None:
    old = {"model": "base", "language": "en", "task": "transcribe", "beam_size": 5, "vad": True,
           "initial_prompt": None}  # fmt: skip
    canonical = json.dumps(old, sort_keys=True, separators=(",", ":"))
    loaded = TranscribeOptions(**old)
    assert loaded.as_dict() == old
    assert recipe_key(loaded) == hashlib.sha256(canonical.encode()).hexdigest()
    assert recipe_key(TranscribeOptions(**old, hotwords="Trax")) != recipe_key(loaded)


def test_translate_gives_english(cli_env: Path, media: Path, tmp_path: Path) -> None:
    german = tmp_path / "german.mp3"  # multilingual.mp3 is read in German after 30 s
    ffmpeg("-ss", "30", "-i", str(media / "multilingual.mp3"), str(german))
    out = tmp_path / "out"
    result = trax("transcribe", german, "--model", "base", "--task", "translate", "--format",
                  "txt", "--output-dir", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    words = words_of((out / "german.txt").read_text())
    assert {"the", "right", "to", "use", "software"} <= set(words)
    assert not {"und", "die", "der", "zu"} & set(words)
    (listed,) = json.loads(trax("list", "--json").stdout)
    assert listed["language"] == "de"
    assert stored_options(listed["id"])["task"] == "translate"


def test_unknown_task_is_a_usage_error(cli_env: Path, media: Path, tmp_path: Path) -> None:
    result = trax("transcribe", media / "jfk.flac", "--task", "summarise", "--output-dir", tmp_path)
    assert result.exit_code == 2
    assert "summarise" in result.stderr
