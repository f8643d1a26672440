"""The transcript JSON schema in docs/ is the one the code writes."""

from __future__ import annotations

from pathlib import Path

from trax.engine.result import SCHEMA_VERSION, json_schema

DOC = Path(__file__).resolve().parents[2] / "docs" / "transcript.schema.json"


def test_documented_schema_is_current() -> None:
    assert DOC.read_text() == json_schema(), (
        "regenerate: uv run python -m trax.engine.result > docs/transcript.schema.json"
    )
    assert f"transcript-{SCHEMA_VERSION}.json" in DOC.read_text()
