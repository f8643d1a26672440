"""Experiment: pad each encoder input to its batch's longest clip instead of to 30 s.

faster-whisper's ``BatchedInferencePipeline.transcribe`` pads every chunk's log-mel features to
3000 frames (30 s, ``pad_or_trim``) although CTranslate2's Whisper encoder accepts fewer. This
script builds the same distinct 2-15 s clips as ``batch_throughput.py``, transcribes each with the
standard pipeline (the reference), then with the same pipeline pieces (VAD, ``collect_chunks``,
``BatchedInferencePipeline.forward``, ``restore_speech_timestamps``) but features padded only to
the batch's longest chunk, rounded up, plus a margin; either with zeros (what ``pad_or_trim``
pads with) or with the log-mel of silence (features of the chunk followed by zero samples, as
OpenAI Whisper does). It reports time, word error rate, hallucination signs and word-timing
differences against the reference, and checks a few real recordings.

Usage: ``uv run python bench/short_encoder_experiment.py [--files 100] [--json out.json]``
Not a test, changes nothing in Trax; results in ``bench/short_encoder_experiment.md``.
"""

from __future__ import annotations

import argparse
import difflib
import inspect
import math
import os
import re
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import batch_throughput
import benchlib
import numpy as np

SAMPLE_RATE = benchlib.SAMPLE_RATE
HOP = 160  # samples per mel frame
FULL_FRAMES = 3000
JFK_TEXT = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)
REAL = ("jfk.flac", "hotwords.mp3", "stereo_diarization.wav", "sample.wav")


@dataclass(frozen=True)
class Variant:
    """How chunks are batched and padded before the encoder."""

    name: str
    step: float | None  # round the padded length up to a multiple of this (s); None: 30 s
    margin: float = 0.0  # seconds of padding added before rounding
    fill: str = "zero"  # "zero" (like pad_or_trim) or "silence" (log-mel of zero samples)
    cross_clip: bool = False  # batch chunks of several clips, sorted by length

    def frames(self, seconds: float) -> int:
        if self.step is None:
            return FULL_FRAMES
        padded = math.ceil((seconds + self.margin) / self.step - 1e-9) * self.step
        return min(FULL_FRAMES, math.ceil(padded * SAMPLE_RATE / HOP))


VARIANTS = (
    Variant("per-clip, 30 s (harness check)", None),
    Variant("per-clip, ceil 5 s + 1 s, zeros", 5, 1),
    Variant("per-clip, ceil 5 s + 1 s, silence", 5, 1, "silence"),
    Variant("per-clip, ceil 10 s, zeros", 10),
    Variant("per-clip, ceil 20 s, zeros", 20),
    Variant("per-clip, ceil 25 s, zeros", 25),
    Variant("per-clip, ceil 2 s + 1 s, zeros", 2, 1),
    Variant("per-clip, ceil 2 s + 2 s, silence", 2, 2, "silence"),
    Variant("cross-clip x8, 30 s (control)", None, cross_clip=True),
    Variant("cross-clip x8, ceil 5 s + 1 s, zeros", 5, 1, cross_clip=True),
    Variant("cross-clip x8, ceil 2 s + 2 s, silence", 2, 2, "silence", cross_clip=True),
)


@dataclass(frozen=True)
class Word:
    word: str
    start: float
    end: float


@dataclass
class Transcript:
    words: list[Word] = field(default_factory=list)
    text: str = ""


@dataclass
class Prepared:
    """One clip up to the encoder: audio, VAD speech regions, speech chunks and their metadata."""

    name: str
    source: str  # the shared recording it was cut from
    audio: benchlib.Audio
    speech: list[dict[str, int]]
    chunks: list[benchlib.Audio]
    metadata: list[dict[str, Any]]


@dataclass
class Score:
    variant: str
    seconds: float
    end_to_end: float
    wer: float
    wer_english: float  # clips not cut from multilingual.mp3 (tiny.en cannot transcribe it)
    truth_wer: float | None  # English clips, against the --truth-model transcripts
    clips_differ: int
    worst_wer: float
    worst_clip: str
    repeats: int
    after_end: int
    ts_mean: float
    ts_max: float
    matched_words: int
    per_clip_wer: dict[str, float]
    texts: dict[str, str]


# --- the pipeline pieces --------------------------------------------------------------------


def pipeline_options(pipeline: Any) -> tuple[Any, Any]:
    """Tokenizer and TranscriptionOptions as ``transcribe()`` builds them for the benchmark's
    options (``beam_size=5, word_timestamps=True, vad_filter=True``, English)."""
    from faster_whisper.tokenizer import Tokenizer
    from faster_whisper.transcribe import TranscriptionOptions, get_suppressed_tokens

    defaults = inspect.signature(type(pipeline).transcribe).parameters
    model = pipeline.model
    tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, "transcribe", "en")
    options = TranscriptionOptions(
        beam_size=5, best_of=5, patience=1, length_penalty=1, repetition_penalty=1,
        no_repeat_ngram_size=0, log_prob_threshold=-1.0, no_speech_threshold=0.6,
        compression_ratio_threshold=2.4, temperatures=[0.0], initial_prompt=None, prefix=None,
        suppress_blank=True, suppress_tokens=get_suppressed_tokens(tokenizer, [-1]),
        prepend_punctuations=defaults["prepend_punctuations"].default,
        append_punctuations=defaults["append_punctuations"].default,
        max_new_tokens=None, hotwords=None, word_timestamps=True,
        hallucination_silence_threshold=None, condition_on_previous_text=False,
        clip_timestamps=[], prompt_reset_on_temperature=0.5, multilingual=False,
        without_timestamps=True, max_initial_timestamp=0.0,
    )  # fmt: skip
    return tokenizer, options


def prepare(name: str, source: str, audio: benchlib.Audio) -> Prepared:
    """VAD and chunking exactly as ``BatchedInferencePipeline.transcribe`` does by default."""
    from faster_whisper.vad import VadOptions, collect_chunks, get_speech_timestamps

    vad = VadOptions(max_speech_duration_s=30, min_silence_duration_ms=160)
    speech = get_speech_timestamps(audio, vad)
    chunks, metadata = collect_chunks(audio, speech, max_duration=30)
    if not speech:
        chunks, metadata = [], []
    return Prepared(name, source, audio, speech, chunks, metadata)


def features(model: Any, chunk: benchlib.Audio, frames: int, fill: str) -> np.ndarray:
    """Log-mel features of ``chunk`` padded (or cut) to ``frames``."""
    extract = model.feature_extractor
    if fill == "silence":
        missing = max(0, frames * HOP - len(chunk))
        mel = extract(np.pad(chunk, (0, missing)))[..., :-1]
    else:
        mel = extract(chunk)[..., :-1]
    mel = mel[..., :frames]
    if mel.shape[-1] < frames:
        mel = np.pad(mel, ((0, 0), (0, frames - mel.shape[-1])))
    return np.ascontiguousarray(mel, dtype=np.float32)


def to_segments(pipeline: Any, per_chunk: list[list[dict[str, Any]]]) -> list[Any]:
    """``forward`` output as faster-whisper ``Segment``s (as ``_batched_segments_generator``)."""
    from faster_whisper.transcribe import Segment
    from faster_whisper.transcribe import Word as FwWord

    out: list[Any] = []
    for chunk in per_chunk:
        for s in chunk:
            words = [FwWord(**w) for w in s["words"]]
            out.append(Segment(
                id=len(out) + 1, seek=s["seek"], start=round(s["start"], 3),
                end=round(s["end"], 3), text=s["text"], tokens=s["tokens"],
                avg_logprob=s["avg_logprob"], compression_ratio=s["compression_ratio"],
                no_speech_prob=s["no_speech_prob"], words=words, temperature=0.0,
            ))  # fmt: skip
    return out


def finish(segments: list[Any], prepared: Prepared) -> Transcript:
    from faster_whisper.transcribe import restore_speech_timestamps

    restored = list(restore_speech_timestamps(segments, prepared.speech, SAMPLE_RATE))
    return collect(restored)


def collect(segments: Sequence[Any]) -> Transcript:
    words = [Word(w.word, w.start, w.end) for s in segments for w in (s.words or ())]
    return Transcript(words, "".join(s.text for s in segments).strip())


def run_variant(
    pipeline: Any, clips: list[Prepared], variant: Variant, batch_size: int
) -> dict[str, Transcript]:
    """Transcribe every clip's chunks with ``variant``'s padding; returns transcript per clip."""
    tokenizer, options = pipeline_options(pipeline)
    model = pipeline.model
    # (clip index, chunk index) in the order they are batched
    order = [(c, k) for c, clip in enumerate(clips) for k in range(len(clip.chunks))]
    if variant.cross_clip:
        order.sort(key=lambda ck: len(clips[ck[0]].chunks[ck[1]]))
        batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    else:  # the pipeline's own batches: the chunks of one clip, ``batch_size`` at a time
        batches = []
        for c, clip in enumerate(clips):
            keys = [(c, k) for k in range(len(clip.chunks))]
            batches += [keys[i : i + batch_size] for i in range(0, len(keys), batch_size)]
    per_chunk: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for batch in batches:
        seconds = max(clips[c].metadata[k]["duration"] for c, k in batch)
        frames = variant.frames(seconds)
        stacked = np.stack([features(model, clips[c].chunks[k], frames, variant.fill)
                            for c, k in batch])  # fmt: skip
        if variant.cross_clip or batch[0][1] == 0:
            pipeline.last_speech_timestamp = 0.0  # each clip starts a fresh call
        metadata = [clips[c].metadata[k] for c, k in batch]
        results = pipeline.forward(stacked, tokenizer, metadata, options)
        per_chunk.update(zip(batch, results, strict=True))
    pipeline.last_speech_timestamp = 0.0
    return {
        clip.name: finish(to_segments(pipeline, [per_chunk[c, k] for k in range(len(clip.chunks))]),
                          clip)
        for c, clip in enumerate(clips)
    }  # fmt: skip


# --- scoring --------------------------------------------------------------------------------


def normalize(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("-", " ")).split()


def edit_distance(ref: Sequence[str], hyp: Sequence[str]) -> int:
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def has_repeats(words: Sequence[str]) -> bool:
    """A word 4 times in a row, or a 3-gram 3 times: Whisper's looping."""
    if any(len(set(words[i : i + 4])) == 1 for i in range(len(words) - 3)):
        return True
    grams = [tuple(words[i : i + 3]) for i in range(len(words) - 2)]
    return any(grams.count(g) >= 3 for g in set(grams))


def after_speech(t: Transcript, clip: Prepared) -> bool:
    """A word starting over 1 s after the last VAD speech, or ending after the audio."""
    if not t.words:
        return False
    last_speech = clip.speech[-1]["end"] / SAMPLE_RATE if clip.speech else 0.0
    duration = len(clip.audio) / SAMPLE_RATE
    return any(w.start > last_speech + 1.0 or w.end > duration + 0.5 for w in t.words)


def wer(truth: dict[str, Transcript], hyp: dict[str, Transcript], clips: list[Prepared]) -> float:
    pairs = [(normalize(truth[c.name].text), normalize(hyp[c.name].text)) for c in clips]
    return sum(edit_distance(r, h) for r, h in pairs) / max(1, sum(len(r) for r, _ in pairs))


def score(
    variant: str,
    seconds: float,
    end_to_end: float,
    ref: dict[str, Transcript],
    hyp: dict[str, Transcript],
    clips: list[Prepared],
    truth: dict[str, Transcript] | None,
) -> Score:
    english = [c for c in clips if c.source != "multilingual.mp3"]
    edits = total = differ = repeats = late = 0
    per_clip: dict[str, float] = {}
    deltas: list[float] = []
    for clip in clips:
        r, h = ref[clip.name], hyp[clip.name]
        rw, hw = normalize(r.text), normalize(h.text)
        e = edit_distance(rw, hw)
        edits, total = edits + e, total + len(rw)
        per_clip[clip.name] = e / len(rw) if rw else float(len(hw))
        differ += r.text != h.text
        repeats += has_repeats(hw) and not has_repeats(rw)
        late += after_speech(h, clip) and not after_speech(r, clip)
        a = [w.word.strip().lower() for w in r.words]
        b = [w.word.strip().lower() for w in h.words]
        for block in difflib.SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks():
            for i in range(block.size):
                x, y = r.words[block.a + i], h.words[block.b + i]
                deltas += [abs(x.start - y.start), abs(x.end - y.end)]
    worst = max(per_clip, key=lambda n: per_clip[n])
    return Score(
        variant, seconds, end_to_end, edits / max(1, total), wer(ref, hyp, english),
        wer(truth, hyp, english) if truth else None, differ, per_clip[worst], worst,
        repeats, late, float(np.mean(deltas)) if deltas else 0.0,
        float(np.max(deltas)) if deltas else 0.0, len(deltas) // 2, per_clip,
        {name: t.text for name, t in hyp.items()},
    )  # fmt: skip


# --- measurements ---------------------------------------------------------------------------


def encoder_costs(model: Any, repeat: int = 3) -> list[tuple[int, int, float]]:
    """Seconds per ``encode`` call of ``batch`` x 80 x ``frames`` (best of ``repeat``)."""
    rows = []
    for batch in (1, 8):
        for frames in (200, 600, 1000, 1600, 2000, 3000):
            x = np.zeros((batch, model.model.n_mels, frames), dtype=np.float32)
            model.encode(x)  # warm-up
            best = math.inf
            for _ in range(repeat):
                t0 = time.perf_counter()
                model.encode(x)
                best = min(best, time.perf_counter() - t0)
            rows.append((batch, frames, best))
    return rows


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def print_scores(scores: list[Score]) -> None:
    base = scores[0].end_to_end
    rows = [(s.variant, f"{s.seconds:.1f}", f"{s.end_to_end:.1f}",
             f"{base / s.end_to_end:.2f}{benchlib.TIMES}", f"{s.wer:.2%}",
             f"{s.wer_english:.2%}",
             "-" if s.truth_wer is None else f"{s.truth_wer:.2%}", s.clips_differ,
             f"{s.worst_wer:.0%} ({s.worst_clip})", s.repeats, s.after_end,
             f"{s.ts_mean:.3f} / {s.ts_max:.2f}") for s in scores]  # fmt: skip
    headers = ("variant", "inference s", "end-to-end s", "speed-up", "WER vs ref",
               "WER vs ref, English clips", "WER vs truth model, English clips",
               "clips differ", "worst clip WER", "new repeats", "new late words",
               "word time diff mean / max s")  # fmt: skip
    print(benchlib.markdown_table(headers, rows))


def print_sources(scores: list[Score], clips: list[Prepared]) -> None:
    """WER against the reference per recording the clips were cut from."""
    ref = scores[0].texts
    rows = []
    for s in scores[1:]:
        cells: list[object] = [s.variant]
        for source in benchlib.RECORDINGS:
            pairs = [(normalize(ref[c.name]), normalize(s.texts[c.name]))
                     for c in clips if c.source == source]  # fmt: skip
            edits = sum(edit_distance(r, h) for r, h in pairs)
            cells.append(f"{edits / max(1, sum(len(r) for r, _ in pairs)):.0%}")
        rows.append(cells)
    print("WER vs reference by source recording:")
    print(benchlib.markdown_table(("variant", *benchlib.RECORDINGS), rows))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--truth-model", help="a larger model whose transcripts (30 s inputs) "
                        "serve as a pseudo ground truth, e.g. base")  # fmt: skip
    parser.add_argument("--only", action="append", help="run only the variants whose name "
                        "contains this (repeatable); the reference always runs")  # fmt: skip
    parser.add_argument("--json", type=Path, help="also save the results here")
    return parser.parse_args()


def main() -> None:
    args = parse_args()

    from faster_whisper import BatchedInferencePipeline, WhisperModel, decode_audio

    location, _cache = benchlib.model_location(args.model)
    model = WhisperModel(location, device="cpu", compute_type="int8", cpu_threads=args.threads)
    pipeline = BatchedInferencePipeline(model)
    print(f"load average (1/5/15 min) at start: {load()}")
    costs = encoder_costs(model)
    print(benchlib.markdown_table(("batch", "frames", "encode s"),
                                  [(b, f, f"{s:.3f}") for b, f, s in costs]))  # fmt: skip

    with tempfile.TemporaryDirectory(prefix="trax-short-enc-") as tmp:
        folder = Path(tmp)
        audio_seconds = batch_throughput.build_inputs(folder, args.files, args.seed)
        paths = sorted(folder.iterdir())
        t0 = time.perf_counter()
        decoded = [(p.name, decode_audio(str(p), sampling_rate=SAMPLE_RATE)) for p in paths]
        decode_seconds = time.perf_counter() - t0
    sources = {p.name: benchlib.RECORDINGS[i % len(benchlib.RECORDINGS)]
               for i, p in enumerate(paths)}  # fmt: skip
    print(f"{len(paths)} clips, {audio_seconds:.0f} s of audio; decode {decode_seconds:.1f} s")

    options = {"word_timestamps": True, "vad_filter": True, "beam_size": 5}
    ref: dict[str, Transcript] = {}
    t0 = time.perf_counter()
    for name, audio in decoded:
        segments, _info = pipeline.transcribe(audio, batch_size=args.batch_size, **options)
        ref[name] = collect(list(segments))
    ref_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    clips = [prepare(name, sources[name], audio) for name, audio in decoded]
    prep_seconds = time.perf_counter() - t0
    chunks = sum(len(c.chunks) for c in clips)
    print(f"reference: {ref_seconds:.1f} s (VAD+chunking alone {prep_seconds:.1f} s); "
          f"{chunks} chunks; load {load()}")  # fmt: skip

    truth = None
    if args.truth_model:
        truth = transcribe_all(args.truth_model, args.threads, args.batch_size, decoded)
        print(f"pseudo truth from {args.truth_model}; load {load()}")
    scores = [score("reference (pipeline.transcribe)", ref_seconds - prep_seconds,
                    decode_seconds + ref_seconds, ref, ref, clips, truth)]  # fmt: skip
    variants = [v for v in VARIANTS if not args.only or any(o in v.name for o in args.only)]
    for variant in variants:
        t0 = time.perf_counter()
        hyp = run_variant(pipeline, clips, variant, args.batch_size)
        seconds = time.perf_counter() - t0
        e2e = decode_seconds + prep_seconds + seconds
        s = score(variant.name, seconds, e2e, ref, hyp, clips, truth)
        scores.append(s)
        print(f"{variant.name}: {seconds:.1f} s, WER {s.wer:.2%}, load {load()}", flush=True)

    print_scores(scores)
    print_sources(scores, clips)

    real = real_recordings(pipeline, args.batch_size, variants)
    print(f"load average at end: {load()}")
    if args.json:
        benchlib.save_json(args.json, {
            "audio_seconds": audio_seconds, "decode_seconds": decode_seconds,
            "prep_seconds": prep_seconds, "chunks": chunks,
            "encoder": costs, "scores": [asdict(s) for s in scores], "real": real,
            "truth": {n: t.text for n, t in truth.items()} if truth else None,
        })  # fmt: skip


def transcribe_all(
    name: str, threads: int, batch_size: int, decoded: list[tuple[str, benchlib.Audio]]
) -> dict[str, Transcript]:
    """Every clip with model ``name`` and the standard pipeline (English, 30 s inputs)."""
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    location, _cache = benchlib.model_location(name)
    model = WhisperModel(location, device="cpu", compute_type="int8", cpu_threads=threads)
    pipeline = BatchedInferencePipeline(model)
    out = {}
    for clip, audio in decoded:
        segments, _ = pipeline.transcribe(audio, language="en", batch_size=batch_size,
                                          beam_size=5, vad_filter=True)  # fmt: skip
        out[clip] = collect(list(segments))
    return out


def real_recordings(
    pipeline: Any, batch_size: int, variants: Sequence[Variant]
) -> list[dict[str, Any]]:
    """The reference and the main variants on a few whole real recordings."""
    from faster_whisper import decode_audio

    chosen = [v for v in variants if not v.cross_clip and v.step is not None]
    out = []
    rows = []
    for name in REAL:
        audio = decode_audio(str(benchlib.MEDIA_DIR / name), sampling_rate=SAMPLE_RATE)
        segments, _ = pipeline.transcribe(audio, batch_size=batch_size, word_timestamps=True,
                                          vad_filter=True, beam_size=5)  # fmt: skip
        ref = collect(list(segments))
        prepared = prepare(name, name, audio)
        truth = normalize(JFK_TEXT) if name == "jfk.flac" else normalize(ref.text)
        row: dict[str, Any] = {"file": name, "reference": ref.text}
        ref_wer = edit_distance(truth, normalize(ref.text)) / len(truth)
        cells: list[object] = [name, f"{ref_wer:.1%}"]
        for v in chosen:
            hyp = run_variant(pipeline, [prepared], v, batch_size)[name]
            wer = edit_distance(truth, normalize(hyp.text)) / max(1, len(truth))
            row[v.name] = hyp.text
            cells.append(f"{wer:.1%}" + (" (same text)" if hyp.text == ref.text else ""))
        out.append(row)
        rows.append(cells)
    print("WER vs known text (jfk) or vs the reference (others):")
    print(benchlib.markdown_table(("file", "reference", *(v.name for v in chosen)), rows))
    return out


if __name__ == "__main__":
    main()
