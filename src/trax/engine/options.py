"""Transcription options: they change the transcript, so they are its provenance and cache key."""

from __future__ import annotations

from dataclasses import asdict, dataclass

#: ``decode`` values. ``None`` (the default): every speech chunk is decoded with ``beam_size``.
#: ``greedy-beam``: every chunk is decoded greedily (beam 1, batched), then the weak regions of
#: that pass (``engine.weak_regions``) again with ``beam_size``, taking their words (ADR 0020).
GREEDY_BEAM = "greedy-beam"
DECODES = (GREEDY_BEAM,)

#: Fields added after transcripts were first stored, left out of the dict form while unset: the
#: recipe key of options that do not use them stays what it was, so stored transcripts still
#: match, and option dicts stored before them still load (the field takes its default).
_OMITTED_WHEN_UNSET = ("hotwords", "decode")


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
    #: How the first pass spends its beam: ``None`` (beam everywhere) or ``greedy-beam`` (above).
    decode: str | None = None

    def as_dict(self) -> dict[str, str | int | float | bool | None]:
        values = dict(asdict(self))
        for name in _OMITTED_WHEN_UNSET:
            if values[name] is None:
                del values[name]
        return values
