"""Placeholder for the multipass stage (replaced by the engine implementation)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

from trax.engine.asr import Transcriber, engine_versions
from trax.engine.audio import MediaProbe
from trax.engine.result import Provenance, TranscriptDocument


@dataclass(frozen=True)
class MultipassOptions:
    model: str | None = None
    beam_size: int = 8

    def as_dict(self) -> dict[str, str | int | float | bool | None]:
        return dict(asdict(self))


def refine(
    transcriber: Transcriber,
    media: MediaProbe,
    parent: TranscriptDocument,
    options: MultipassOptions,
    progress: Callable[[float], None] | None = None,
) -> TranscriptDocument:
    provenance = Provenance(
        stage="multipass",
        model=options.model or parent.provenance.model,
        options=options.as_dict(),
        engine=engine_versions(),
    )
    if progress:
        progress(1.0)
    return parent.model_copy(update={"provenance": provenance})
