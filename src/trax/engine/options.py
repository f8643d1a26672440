"""Transcription options: they change the transcript, so they are its provenance and cache key."""

from __future__ import annotations

from dataclasses import asdict, dataclass

#: Fields added after transcripts were first stored, left out of the dict form while unset: the
#: recipe key of options that do not use them stays what it was, so stored transcripts still
#: match, and option dicts stored before them still load (the field takes its default).
_OMITTED_WHEN_UNSET = ("hotwords",)


@dataclass(frozen=True)
class TranscribeOptions:
    model: str = "base"
    language: str | None = None
    task: str = "transcribe"
    beam_size: int = 5
    vad: bool = True
    initial_prompt: str | None = None
    #: Words or names to favour (faster-whisper's ``hotwords``, a prompt prefix).
    hotwords: str | None = None

    def as_dict(self) -> dict[str, str | int | float | bool | None]:
        values = dict(asdict(self))
        for name in _OMITTED_WHEN_UNSET:
            if values[name] is None:
                del values[name]
        return values
