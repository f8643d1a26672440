"""Transcription options: they change the transcript, so they are its provenance and cache key."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class TranscribeOptions:
    model: str = "base"
    language: str | None = None
    task: str = "transcribe"
    beam_size: int = 5
    vad: bool = True
    initial_prompt: str | None = None

    def as_dict(self) -> dict[str, str | int | float | bool | None]:
        return dict(asdict(self))
