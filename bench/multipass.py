"""v1 (batched first pass) against v3 (first pass + multipass refine) on public recordings.

    uv run python bench/multipass.py --model base [--redo-model base] [--json out.json]

Sets, built into a temporary directory (see bench/README.md): clean read speech (jfk.flac and
LibriVox readings with reference texts, ``read_speech.py``), noisy read speech (the same + pink
or babble noise at 10, 5, 0 dB SNR), no-speech clips (speech played backwards, white noise,
synthetic chords), the code-switched multilingual.mp3 and the noisy apollo11.mp3 radio (no
reference: loops and time only).

Prints per set: WER (Whisper's English normaliser + jiwer) for v1 and v3, words written on
no-speech clips, loops (a 1- to 10-word phrase repeated 4+ times back to back), wall time of v1
and of v3 (first pass + refine), and how many seconds were re-decoded.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path

import jiwer
import numpy as np
import read_speech
from whisper_normalizer.english import EnglishTextNormalizer

from trax.engine.asr import EngineConfig, Transcriber
from trax.engine.audio import SAMPLE_RATE, AudioArray, decode_windows, probe
from trax.engine.models import LoadOptions
from trax.engine.multipass import MultipassOptions, loop_spans, refine
from trax.engine.options import TranscribeOptions

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"
#: Played backwards and summed into babble noise.
BABBLE = ("sample.wav", "multilingual.mp3", "hotwords.mp3", "stereo_diarization.wav")
JFK_TEXT = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)


@dataclass
class Item:
    set_name: str
    path: Path
    reference: str | None  # None: no reference text; "" : no speech (any word is wrong)


@dataclass
class Row:
    set_name: str
    items: int = 0
    refs: list[str] = field(default_factory=list)
    v1_hyps: list[str] = field(default_factory=list)
    v3_hyps: list[str] = field(default_factory=list)
    v1_nospeech_words: int = 0
    v3_nospeech_words: int = 0
    v1_loops: int = 0
    v3_loops: int = 0
    v1_seconds: float = 0.0
    v3_seconds: float = 0.0
    redecoded_seconds: float = 0.0
    audio_seconds: float = 0.0


def load(path: Path) -> AudioArray:
    media = probe(path, max_bytes=10**10, max_duration=10**6)
    windows = decode_windows(media, window_seconds=600, max_duration=10**6)
    return np.concatenate([w.samples for w in windows])


def write(path: Path, audio: AudioArray) -> Path:
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm.tobytes())
    return path


def pink(n: int, rng: np.random.Generator) -> AudioArray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.maximum(np.fft.rfftfreq(n), 1 / n)
    noise = np.fft.irfft(spectrum / np.sqrt(freqs), n)
    return (noise / np.std(noise)).astype(np.float32)


def chords(seconds: float) -> AudioArray:
    """Synthetic music: four chords of harmonic tones with a decaying envelope."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    out = np.zeros_like(t)
    notes = [(220, 277, 330), (196, 247, 294), (175, 220, 262), (196, 247, 294)]
    beat = int(0.5 * SAMPLE_RATE)
    for i in range(len(t) // beat):
        tt = t[: min(beat, len(t) - i * beat)]
        for f in notes[(i // 4) % 4]:
            for h in range(1, 6):
                out[i * beat : i * beat + len(tt)] += (
                    np.exp(-3 * tt) * np.sin(2 * np.pi * f * h * tt) / h
                )
    return (0.6 * out / np.abs(out).max()).astype(np.float32)


def babble(n: int, rng: np.random.Generator) -> AudioArray:
    """Four voices at once, none intelligible: shared recordings played backwards, summed at
    random offsets (speech-shaped, speech-rhythmed noise with no words to transcribe)."""
    voices = [load(MEDIA / name)[::-1] for name in BABBLE]
    out = np.zeros(n, dtype=np.float32)
    for voice in voices:
        offset = int(rng.integers(0, len(voice)))
        looped = np.tile(np.roll(voice, offset), n // len(voice) + 1)[:n]
        out += looped / (np.std(looped) + 1e-9)
    return (out / np.std(out)).astype(np.float32)


def noise(kind: str, n: int, rng: np.random.Generator) -> AudioArray:
    if kind == "white":
        return rng.standard_normal(n).astype(np.float32)
    return pink(n, rng) if kind == "pink" else babble(n, rng)


def build(out: Path, cache: Path, sets: set[str], kinds: list[str]) -> list[Item]:
    rng = np.random.default_rng(2024)
    jfk = load(MEDIA / "jfk.flac")
    read: list[tuple[str, AudioArray, str]] = [("jfk", jfk, JFK_TEXT)]
    for u in read_speech.fetch(cache):
        read.append((u.name, load(u.path)[int(u.start * SAMPLE_RATE) :], u.reference))
    items = [
        Item("clean read speech", write(out / f"{name}.wav", audio), text)
        for name, audio, text in read
    ]
    for kind in kinds:
        for snr in (10, 5, 0):
            for name, audio, text in read:
                base = noise(kind, len(audio), rng)
                scale = np.sqrt(float(np.mean(audio**2)) / 10 ** (snr / 10)) / np.std(base)
                path = write(out / f"{name}_{kind}_{snr}db.wav", audio + base * scale)
                items.append(Item("noisy read speech", path, text))
    sample = load(MEDIA / "sample.wav")
    items += [
        Item("no speech", write(out / "jfk_reversed.wav", jfk[::-1].copy()), ""),
        Item("no speech", write(out / "sample_reversed.wav", sample[::-1].copy()), ""),
        Item(
            "no speech", write(out / "white.wav", 0.1 * rng.standard_normal(20 * SAMPLE_RATE)), ""
        ),
        Item("no speech", write(out / "chords.wav", chords(20.0)), ""),
        Item("code-switched (en→de)", MEDIA / "multilingual.mp3", None),
        Item("noisy radio", MEDIA / "apollo11.mp3", None),
    ]
    return [i for i in items if not sets or i.set_name.split()[0] in sets]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="base", help="the first pass's model (v1)")
    parser.add_argument("--redo-model", help="MultipassOptions.model (default: the parent's)")
    parser.add_argument("--beam-size", type=int, default=MultipassOptions().beam_size)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--noise", default="pink,babble", help="kinds: white, pink, babble")
    parser.add_argument("--sets", default="", help="first words of set names, e.g. noisy,no")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "trax-bench")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    norm = EnglishTextNormalizer()
    options = MultipassOptions(model=args.redo_model, beam_size=args.beam_size)
    with tempfile.TemporaryDirectory(prefix="trax-mp-") as tmp:
        sets = {s for s in args.sets.split(",") if s}
        items = build(Path(tmp), args.cache, sets, args.noise.split(","))
        config = EngineConfig(
            model_cache_dir=args.cache / "models", load=LoadOptions(cpu_threads=args.threads)
        )
        transcriber = Transcriber(config)
        jfk = probe(MEDIA / "jfk.flac", max_bytes=10**10, max_duration=1e6)
        for model in {args.model, args.redo_model or args.model}:  # load and warm before timing
            transcriber.pipeline(model)
            transcriber.whisper(model)
            transcriber.transcribe(jfk, TranscribeOptions(model=model))
        rows: dict[str, Row] = {}
        for item in items:
            row = rows.setdefault(item.set_name, Row(item.set_name))
            media = probe(item.path, max_bytes=10**10, max_duration=10**6)
            start = time.perf_counter()
            v1 = transcriber.transcribe(media, TranscribeOptions(model=args.model))
            first = time.perf_counter()
            v3 = refine(transcriber, media, v1, options)
            done = time.perf_counter()
            row.items += 1
            row.v1_seconds += first - start
            row.v3_seconds += done - start
            row.audio_seconds += v1.duration
            row.redecoded_seconds += sum(r.end - r.start for r in v3.regions)
            row.v1_loops += len(loop_spans([w.text for w in v1.words]))
            row.v3_loops += len(loop_spans([w.text for w in v3.words]))
            if item.reference == "":
                row.v1_nospeech_words += len(v1.words)
                row.v3_nospeech_words += len(v3.words)
            elif item.reference is not None:
                row.refs.append(norm(item.reference))
                row.v1_hyps.append(norm(v1.text))
                row.v3_hyps.append(norm(v3.text))
                w1 = jiwer.wer(row.refs[-1], row.v1_hyps[-1])
                w3 = jiwer.wer(row.refs[-1], row.v3_hyps[-1])
                print(f"{item.path.name}: WER {w1:.3f} -> {w3:.3f}", file=sys.stderr)
            print(f"{item.path.name}: v1 {v1.text!r}\n  v3 {v3.text!r}", file=sys.stderr)
            for region in v3.regions:
                print(f"  {region}", file=sys.stderr)
    report(list(rows.values()), args)
    return 0


def report(rows: list[Row], args: argparse.Namespace) -> None:
    redo = args.redo_model or args.model
    print(f"first pass {args.model}, re-decode {redo} beam {args.beam_size}, "
          f"noise {args.noise}, {args.threads} threads\n")  # fmt: skip
    print("| set | clips | WER v1 | WER v3 | words on no-speech v1 / v3 | loops v1 / v3 "
          "| wall v1 | wall v3 | v3/v1 | re-decoded |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    results = []
    for r in rows:
        w1 = jiwer.wer(r.refs, r.v1_hyps) if r.refs else None
        w3 = jiwer.wer(r.refs, r.v3_hyps) if r.refs else None
        wer = (f"{w1:.3f}", f"{w3:.3f}") if w1 is not None and w3 is not None else ("n/a", "n/a")
        nospeech = f"{r.v1_nospeech_words} / {r.v3_nospeech_words}"
        print(f"| {r.set_name} | {r.items} | {wer[0]} | {wer[1]} | "
              f"{nospeech if r.set_name == 'no speech' else 'n/a'} | {r.v1_loops} / {r.v3_loops} | "
              f"{r.v1_seconds:.1f} s | {r.v3_seconds:.1f} s | {r.v3_seconds / r.v1_seconds:.2f} | "
              f"{r.redecoded_seconds:.0f} of {r.audio_seconds:.0f} s |")  # fmt: skip
        results.append({**r.__dict__, "wer_v1": w1, "wer_v3": w3})
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
