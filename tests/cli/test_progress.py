"""The CLI's time left for a running job."""

from __future__ import annotations

import pytest

from trax.cli.running import Eta


def test_eta_follows_the_rate_since_transcription_started_and_counts_down() -> None:
    eta = Eta()
    eta.observe(0.0, now=100.0)  # model loading before this does not count
    assert eta.text(101.0) == ""  # no rate yet
    eta.observe(0.0, now=104.0)
    assert eta.text(104.0) == ""
    eta.observe(0.25, now=110.0)  # a quarter in 10 s: 30 s left
    assert eta.seconds(110.0) == pytest.approx(30.0)
    assert eta.text(110.0) == "ETA 0:00:30"
    assert eta.text(125.0) == "ETA 0:00:15"  # between updates it counts down
    assert eta.text(200.0) == "ETA 0:00:00"  # and stops at zero when late
    eta.observe(0.5, now=130.0)  # slower than first thought: 20 s per quarter from the start
    assert eta.seconds(130.0) == pytest.approx(30.0)
    eta.observe(0.4, now=131.0)  # never goes backwards
    assert eta.seconds(131.0) == pytest.approx(29.0)
