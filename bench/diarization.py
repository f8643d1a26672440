"""Diarization error rate and speed of the ``diarized`` stage's speaker turns (ADR 0017).

Not a test: run by hand on an idle machine, results recorded in ``bench/README.md``.

    uv run python bench/diarization.py                    # sample.wav and a 20-minute call
    uv run python bench/diarization.py --long-minutes 120 # adds a 2-hour file: memory and labels

Recordings with reference RTTMs:

* ``sample.wav`` with ``sample.rttm`` (pyannote's tutorial asset, two speakers, 30 s).
* ``call-N-min``: ``sample.wav`` repeated to N minutes (reference shifted to match). Longer than
  one window, so the same two voices recur in every window and must keep their labels: this
  measures the cross-window linking (a wrong link is counted as confusion).

Each run is a fresh process (``_measure.py``): wall time includes loading the models, peak RSS is
the child's own. ``trax`` is Trax's stage (windows + linking); ``baseline`` is plain sherpa-onnx
(segmentation + embedding + clustering over the whole file at once, its default settings).
DER is scored with pyannote.metrics, overlap included, with a 0.25 s collar and with none.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from benchlib import (
    MEDIA_DIR,
    SAMPLE_RATE,
    encode,
    markdown_table,
    run_measured,
    save_json,
    self_command,
)

SAMPLE = MEDIA_DIR / "sample.wav"
SAMPLE_RTTM = MEDIA_DIR / "sample.rttm"
TARGET_DER, TARGET_SPEED = 0.05, 20.0


def read_rttm(path: Path) -> list[tuple[float, float, str]]:
    turns = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if parts and parts[0] == "SPEAKER":
            start, duration = float(parts[3]), float(parts[4])
            turns.append((start, start + duration, parts[7]))
    return turns


def write_rttm(path: Path, uri: str, turns: list[tuple[float, float, str]]) -> None:
    lines = [
        f"SPEAKER {uri} 1 {s:.3f} {e - s:.3f} <NA> <NA> {who.replace(' ', '_')} <NA> <NA>"
        for s, e, who in turns
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _load_wav(path: Path) -> np.ndarray:
    from trax.engine.audio import decode_windows, probe

    media = probe(path, max_bytes=1 << 40, max_duration=1e9)
    parts = [w.samples for w in decode_windows(media, window_seconds=600, max_duration=1e9)]
    return np.concatenate(parts)


def make_call(minutes: float, out: Path) -> tuple[Path, Path]:
    """``sample.wav`` repeated to ``minutes``; returns the audio and its reference RTTM."""
    audio = _load_wav(SAMPLE)
    seconds = len(audio) / SAMPLE_RATE
    repeats = max(1, round(minutes * 60 / seconds))
    path = out / f"call-{minutes:g}-min.flac"
    encode(path, (audio for _ in range(repeats)), "flac")
    ref = read_rttm(SAMPLE_RTTM)
    turns = [(s + n * seconds, e + n * seconds, who) for n in range(repeats) for s, e, who in ref]
    rttm = out / f"call-{minutes:g}-min.rttm"
    write_rttm(rttm, path.stem, turns)
    return path, rttm


def child(args: argparse.Namespace) -> None:
    """Diarize one file and print its turns as JSON (run in a fresh process)."""
    from trax.engine import diarization as d
    from trax.engine.audio import probe

    started, cpu = time.perf_counter(), time.process_time()
    media = probe(Path(args.media), max_bytes=1 << 40, max_duration=1e9)
    if args.system == "baseline":
        models = d._models(None)
        audio = _load_wav(Path(args.media))
        result = models.pipeline(-1).process(audio).sort_by_start_time()
        turns = [(float(s.start), float(s.end), f"S{s.speaker}") for s in result]
    else:
        found = d.diarize(media, d.DiarizeOptions(), window_seconds=args.window)
        turns = [(t.start, t.end, t.speaker) for t in found.turns]
    print(
        json.dumps(
            {
                "turns": turns,
                "seconds": time.perf_counter() - started,
                "cpu_seconds": time.process_time() - cpu,
            }
        )
    )


def score(reference: Path, turns: list[tuple[float, float, str]], uri: str) -> dict[str, float]:
    from pyannote.core import Annotation, Segment
    from pyannote.metrics.diarization import DiarizationErrorRate

    ref, hyp = Annotation(uri=uri), Annotation(uri=uri)
    for i, (s, e, who) in enumerate(read_rttm(reference)):
        ref[Segment(s, e), i] = who
    for i, (s, e, who) in enumerate(turns):
        hyp[Segment(s, e), i] = who
    return {
        f"der_collar_{collar:g}": float(
            DiarizationErrorRate(collar=collar, skip_overlap=False)(ref, hyp)
        )
        for collar in (0.25, 0.0)
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--media", help=argparse.SUPPRESS)
    parser.add_argument("--system", default="trax", help=argparse.SUPPRESS)
    parser.add_argument("--window", type=float, default=600.0, help="trax window seconds")
    parser.add_argument("--call-minutes", type=float, default=20.0)
    parser.add_argument("--long-minutes", type=float, default=0.0, help="add a file this long")
    parser.add_argument("--json", type=Path, help="save the results here")
    parser.add_argument("--systems", default="trax,baseline", help="comma-separated")
    parser.add_argument("--no-sample", action="store_true", help="skip sample.wav")
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    rows, results = [], []
    with tempfile.TemporaryDirectory(prefix="trax-bench-diar-") as tmp:
        inputs = [] if args.no_sample else [(SAMPLE, SAMPLE_RTTM, 30.0)]
        for minutes in filter(None, (args.call_minutes, args.long_minutes)):
            audio, rttm = make_call(minutes, Path(tmp))
            inputs.append((audio, rttm, minutes * 60))
        for audio, rttm, seconds in inputs:
            for system in args.systems.split(","):
                cmd = self_command(__file__, "--child", "--media", str(audio), "--system", system)
                measured = run_measured([*cmd, "--window", str(args.window)]).check(system)
                out = json.loads(measured.stdout)
                der = score(rttm, [tuple(t) for t in out["turns"]], audio.stem)
                speed = seconds / measured.wall_seconds
                speakers = len({t[2] for t in out["turns"]})
                result = {
                    "file": audio.name,
                    "system": system,
                    "audio_seconds": seconds,
                    "wall_seconds": measured.wall_seconds,
                    "cpu_seconds": out["cpu_seconds"],
                    "peak_rss_mb": measured.peak_rss_mb,
                    "speakers": speakers,
                    **der,
                }
                results.append(result)
                rows.append(
                    [
                        audio.name,
                        system,
                        f"{seconds:.0f}",
                        speakers,
                        f"{der['der_collar_0.25']:.1%}",
                        f"{der['der_collar_0']:.1%}",
                        f"{speed:.1f}",
                        f"{seconds / max(out['cpu_seconds'], 1e-9):.1f}",
                        f"{measured.peak_rss_mb:.0f}",
                    ]
                )
                print(rows[-1], flush=True)
    headers = ["file", "system", "audio s", "speakers", "DER 0.25", "DER 0", "x RT wall"]
    print(markdown_table([*headers, "x RT CPU", "peak MB"], rows))
    if args.json:
        save_json(args.json, results)


if __name__ == "__main__":
    main()
