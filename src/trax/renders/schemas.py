"""What readers of renders get back, and what a render request says (CLI, API)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class RenderView(BaseModel):
    """A stored render: a transcript version's captions burned into its media (MP4)."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: str
    transcript_id: str
    media_id: str
    version: int = Field(description="The transcript version whose captions were burned in.")
    style: str = Field(description="The preset the style started from.")
    options: dict[str, Any] = Field(description="The whole resolved style.")
    size_bytes: int
    duration: float
    width: int
    height: int
    wall_seconds: float | None = Field(default=None, description="Seconds the render took.")
    created_at: datetime


class RenderCreate(BaseModel):
    """Burn a version's captions into its media (default: the newest version, classic style)."""

    version: int | None = Field(default=None, ge=1, le=2**31 - 1)
    style: str | None = Field(
        default=None, max_length=32, examples=["classic", "karaoke", "boxed", "social"]
    )
    overrides: dict[str, str | int | float | bool | list[str]] = Field(
        default_factory=dict,
        max_length=32,
        description="Style options over the preset: font, font_size, bold, text_colour, "
        "outline_colour, back_colour, outline, shadow, box, position, margin, max_line_chars, "
        "max_lines, karaoke, highlight_colour, speaker_colours, background_colour, width, height.",
        examples=[{"karaoke": True, "highlight_colour": "#39ff14"}],
    )
