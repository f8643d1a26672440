"""Progress follows the audio as the model gets through it, not once per decode window."""

from __future__ import annotations

import itertools
import time
from dataclasses import replace
from pathlib import Path

from trax.engine.asr import Transcriber
from trax.engine.audio import probe
from trax.engine.options import TranscribeOptions

TINY = TranscribeOptions(model="tiny.en")


def test_progress_rises_batch_by_batch_to_the_end(
    transcriber: Transcriber, derived: dict[str, Path]
) -> None:
    """Nearly two minutes of speech (four 30 s chunks) in one decode window, a chunk per batch:
    progress moves after each batch, not once at the window's end."""
    small_batches = Transcriber(replace(transcriber._config, batch_size=1))
    media = probe(derived["long"], max_bytes=10**10, max_duration=10**6)
    seen: list[tuple[float, float]] = []  # (when, fraction)

    def on_progress(fraction: float) -> None:
        seen.append((time.monotonic(), fraction))

    small_batches.transcribe(media, TINY, on_progress)
    finished = time.monotonic()

    fractions = [f for _, f in seen]
    assert all(a < b for a, b in itertools.pairwise(fractions)), fractions
    assert fractions[-1] == 1.0
    during = [(when, f) for when, f in seen if 0 < f < 1]
    assert len(during) >= 3, fractions
    first_when, first = during[0]
    assert first < 0.7, "the first batch reports only its own part of the audio"
    assert finished - first_when > 0.5, "reported while the rest was still being transcribed"
