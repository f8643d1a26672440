"""Documentation that must not drift from the code."""

from __future__ import annotations

from pathlib import Path

from trax.config import Settings

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_setting_is_documented_in_the_readme() -> None:
    text = README.read_text()
    missing = [
        f"TRAX_{n.upper()}" for n in Settings.model_fields if f"`TRAX_{n.upper()}`" not in text
    ]
    assert missing == [], f"add these to the README's configuration table: {missing}"


def test_readme_shows_the_two_setup_commands() -> None:
    text = README.read_text()
    assert "uv run trax transcribe" in text
    assert "uv run pytest" in text
