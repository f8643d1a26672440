"""Diarization error rate and speed of the ``diarized`` stage's speaker turns (ADR 0017).

Not a test: run by hand on an idle machine, results recorded in ``bench/README.md``.

    uv run python bench/diarization.py                    # sample.wav, 20-min call and meeting
    uv run python bench/diarization.py --long-minutes 120 # adds a 2-hour file: memory and labels

Recordings with reference RTTMs:

* ``sample.wav`` with ``sample.rttm`` (pyannote's tutorial asset, two speakers, 30 s).
* ``call-N-min``: ``sample.wav`` repeated to N minutes (reference shifted to match). Longer than
  one window, so the same two voices recur in every window and must keep their labels: this
  measures the cross-window clustering (a wrong label is counted as confusion).
* ``meeting-N-min``: a synthetic meeting of five different people (``make_meeting``): turns of
  1-20 s cut from single-speaker public recordings, alternated with pauses and short overlaps,
  with an exact reference (see ``bench/README.md`` for the sources and their licences).

Each run is a fresh process (``_measure.py``): wall time includes loading the models, peak RSS is
the child's own. ``trax`` is Trax's stage (per-window segmentation and embeddings, clustered
together); ``baseline`` is plain sherpa-onnx (segmentation + embedding + clustering over the whole
file at once, with the same models, chunk step and threshold Trax used before).
DER is scored with pyannote.metrics, overlap included, with a 0.25 s collar and with none.
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import read_speech
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
#: sherpa-onnx's clustering threshold for the baseline (cosine distance, complete linkage; chosen
#: on sample.wav: 0.45 merged its two speakers).
BASELINE_THRESHOLD = 0.4


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


# --- the synthetic meeting ---------------------------------------------------------------------

#: Pocketsphinx test recordings of one voice each (raw: 16 kHz 16-bit; BSD-2-Clause package).
_SPHINX_FILES = {
    "chan3": "test/regression/chan3.wav",
    "goforward": "test/data/goforward.raw",
    "numbers": "test/data/numbers.raw",
    "something": "test/data/something.raw",
}
#: Each participant's recordings and their share of the talk (a chair, two regulars, two who
#: say little): five different voices (CAM++ cosine between them 0.26-0.44; see README).
PARTICIPANTS = {
    "reader_sonnets": (("sonnet1", "sonnet2", "sonnet3"), 0.32),
    "reader_sense": (("sense0870", "sense0880", "sense0890", "sense0920", "sense0930"), 0.24),
    "jfk": (("jfk",), 0.18),
    "an4_chan3": (("chan3",), 0.14),
    "an4_goforward": (("goforward", "numbers", "something"), 0.12),
}
MEETING_SEED = 20261130


@dataclass(frozen=True)
class Voice:
    """One participant's speech, loudness-normalised, and where in it someone is talking."""

    audio: np.ndarray
    runs: list[tuple[int, int]]  # speech (start, end) sample ranges


def _speech_runs(audio: np.ndarray) -> list[tuple[int, int]]:
    """Speech by frame energy (20 ms frames, clean recordings): pauses under 0.3 s are joined,
    bursts under 0.2 s dropped."""
    frame = SAMPLE_RATE // 50
    frames = len(audio) // frame
    rms = np.sqrt(np.mean(audio[: frames * frame].reshape(frames, frame) ** 2, axis=1) + 1e-12)
    db = 20 * np.log10(rms)
    low, high = np.percentile(db, 10), np.percentile(db, 95)
    active = np.concatenate([[0], (db > low + 0.35 * (high - low)).astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(active))
    runs: list[list[int]] = []
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        if runs and a - runs[-1][1] < 15:
            runs[-1][1] = int(b)
        else:
            runs.append([int(a), int(b)])
    return [(a * frame, b * frame) for a, b in runs if b - a >= 10]


def meeting_voices(cache: Path) -> dict[str, Voice]:
    """The five participants' recordings (downloaded once into ``cache``, SHA-256 checked)."""
    clips: dict[str, np.ndarray] = {"jfk": _load_wav(MEDIA_DIR / "jfk.flac")}
    for u in read_speech.fetch(cache):
        clips[u.name] = _load_wav(u.path)[round(u.start * SAMPLE_RATE) :]
    archive = cache / "pocketsphinx-5.1.1.tar.gz"
    with tarfile.open(archive) as tar:
        for name, member in _SPHINX_FILES.items():
            data = read_speech._member(tar, member)
            if member.endswith(".wav"):  # 11.025 kHz: decoded (and resampled) by trax
                (cache / f"{name}.wav").write_bytes(data)
                clips[name] = _load_wav(cache / f"{name}.wav")
            else:
                clips[name] = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768
    voices = {}
    for who, (names, _) in PARTICIPANTS.items():
        audio = np.concatenate([clips[n] for n in names])
        runs = _speech_runs(audio)
        speech = np.concatenate([audio[a:b] for a, b in runs])
        audio = audio * (0.05 / np.sqrt(np.mean(speech**2)))  # about -26 dBFS while talking
        voices[who] = Voice(audio.astype(np.float32), runs)
    return voices


def make_meeting(
    minutes: float, out: Path, cache: Path, seed: int = MEETING_SEED
) -> tuple[Path, Path]:
    """A meeting of ``minutes``: turns of 1-20 s (log-uniform) from each participant's speech,
    next speaker by share (a quick reply to the previous speaker one time in four), pauses of
    0.2-1.5 s (one in ten 2-4 s) and overlaps of 0.3-1.5 s one turn in six. Seeded: the same
    audio and reference every time."""
    rng = np.random.default_rng(seed)
    voices = meeting_voices(cache)
    names = list(PARTICIPANTS)
    shares = np.array([PARTICIPANTS[n][1] for n in names])
    total = round(minutes * 60 * SAMPLE_RATE)
    mix = np.zeros(total + 30 * SAMPLE_RATE, dtype=np.float32)
    ref: list[tuple[float, float, str]] = []
    t, previous, last = SAMPLE_RATE, -1, -1
    while t < total:
        if previous >= 0 and rng.random() < 0.25:
            who = previous
        else:
            p = shares.copy()
            if last >= 0:
                p[last] = 0
            who = int(rng.choice(len(names), p=p / p.sum()))
        voice = voices[names[who]]
        length = round(float(np.exp(rng.uniform(np.log(1.0), np.log(20.0)))) * SAMPLE_RATE)
        start = voice.runs[int(rng.integers(len(voice.runs)))][0]
        piece = np.roll(voice.audio, -start)[:length]
        mix[t : t + len(piece)] += piece
        for a, b in voice.runs:  # speech of the piece, in meeting time (wrapping the source)
            for shift in (-start, len(voice.audio) - start):
                lo, hi = max(a + shift, 0), min(b + shift, len(piece))
                if hi - lo >= SAMPLE_RATE // 10:
                    ref.append(((t + lo) / SAMPLE_RATE, (t + hi) / SAMPLE_RATE, names[who]))
        end = t + len(piece)
        if rng.random() < 1 / 6:
            gap = -rng.uniform(0.3, min(1.5, len(piece) / SAMPLE_RATE / 2))
        elif rng.random() < 0.1:
            gap = rng.uniform(2.0, 4.0)
        else:
            gap = rng.uniform(0.2, 1.5)
        previous, last, t = last, who, end + round(gap * SAMPLE_RATE)
    audio = mix[: t + SAMPLE_RATE]
    path = out / f"meeting-{minutes:g}-min.flac"
    encode(path, [audio], "flac")
    rttm = out / f"meeting-{minutes:g}-min.rttm"
    write_rttm(rttm, path.stem, sorted(ref))
    return path, rttm


def child(args: argparse.Namespace) -> None:
    """Diarize one file and print its turns as JSON (run in a fresh process)."""
    from trax.engine import diarization as d
    from trax.engine.audio import probe

    started, cpu = time.perf_counter(), time.process_time()
    media = probe(Path(args.media), max_bytes=1 << 40, max_duration=1e9)
    if args.system == "baseline":
        audio = _load_wav(Path(args.media))
        result = _sherpa_pipeline().process(audio).sort_by_start_time()
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


def _sherpa_pipeline() -> object:
    """Plain sherpa-onnx over the whole file: the same models, chunk step, threshold and
    short-turn rules as Trax had before windows (its own complete-linkage clustering)."""
    import sherpa_onnx

    from trax.engine import diarization as d

    segmentation, embedding = d.verified_models()
    config = sherpa_onnx.OfflineSpeakerDiarizationConfig(
        segmentation=sherpa_onnx.OfflineSpeakerSegmentationModelConfig(
            pyannote=sherpa_onnx.OfflineSpeakerSegmentationPyannoteModelConfig(
                model=str(segmentation), window_shift_ratio=d.CHUNK_STEP
            ),
            num_threads=d.THREADS,
        ),
        embedding=sherpa_onnx.SpeakerEmbeddingExtractorConfig(
            model=str(embedding), num_threads=d.THREADS
        ),
        clustering=sherpa_onnx.FastClusteringConfig(num_clusters=-1, threshold=BASELINE_THRESHOLD),
        min_duration_on=d.MIN_ON,
        min_duration_off=d.MIN_OFF,
    )
    return sherpa_onnx.OfflineSpeakerDiarization(config)


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
    parser.add_argument("--meeting-minutes", type=float, default=20.0, help="0: no meeting")
    parser.add_argument("--meeting-seed", type=int, default=MEETING_SEED)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "trax-bench")
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
        if args.meeting_minutes:
            audio, rttm = make_meeting(
                args.meeting_minutes, Path(tmp), args.cache, args.meeting_seed
            )
            inputs.append((audio, rttm, len(_load_wav(audio)) / SAMPLE_RATE))
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
