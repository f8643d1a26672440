"""Who spoke when: speaker turns from the audio, and each word of a transcript given a speaker.

Turns come from pyannote segmentation-3.0 (up to three local speakers per 10 s chunk, overlapped
speech included) and CAM++ speaker embeddings, run with ONNX Runtime and sherpa-onnx's embedding
extractor on windows of :data:`WINDOW_SECONDS`; the embeddings of the whole file are then clustered
together (:mod:`trax.engine.diarization_chunks`), so memory stays bounded whatever the file's
length and labels hold across windows. Both models ship with Trax as ONNX files pinned by SHA-256
(ADR 0017); nothing is downloaded and torch is never loaded.

A word goes to the speaker whose turn covers its middle; where two turns overlap there, to the
speaker the segmentation model scores higher over the word's frames (not the first one found).
"""

from __future__ import annotations

import bisect
import hashlib
import importlib.metadata
import itertools
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from trax import errors
from trax.engine import diarization_chunks as chunks
from trax.engine.audio import SAMPLE_RATE, AudioArray, MediaProbe, decode_windows
from trax.engine.result import Provenance, Segment, TranscriptDocument

if TYPE_CHECKING:
    import onnxruntime

#: Where the shipped models live, their file names and pinned SHA-256 (made by
#: ``scripts/export_diarization_models.py``; see the README beside them).
BUNDLED_DIR = Path(__file__).parent / "diarization_models"
SEGMENTATION_FILE = "segmentation-3.0.onnx"
EMBEDDING_FILE = "campplus-cn-en-common.onnx"
PINNED_SHA256 = {
    SEGMENTATION_FILE: "4b5992615a8f1bd2358398e34e30692a5a3961d795eb1babf9565f7af2600767",
    EMBEDDING_FILE: "53d17fddff556251c9085b3294af8b2aa2d23ce17155816ab6728c2108f71cc6",
}
MODEL_NAME = "pyannote/segmentation-3.0+3dspeaker/campplus_cn_en_common"

#: Audio decoded and segmented at once. Memory grows with it; what is kept of a window after
#: it is done (frame labels and embeddings) is a few kB per minute.
WINDOW_SECONDS = 600.0
#: Average-linkage threshold on the cosine distance between chunk embeddings (smaller finds more
#: speakers; 0.25 to 0.35 gave the same speakers on every file of the bench).
CLUSTER_THRESHOLD = 0.3
#: Only embeddings of at least 2 s of one speaker alone in a chunk (a fifth of it, as pyannote)
#: are clustered; the others join the nearest cluster (a turn clipped at a splice or a cough
#: would otherwise make a speaker of its own).
MIN_CLEAN_FRAMES = 118
#: Clusters of fewer clustered embeddings than this (and than a tenth of them) are dissolved into
#: the others (pyannote's min_cluster_size).
MIN_CLUSTER_SIZE = 12
#: Turns shorter than this are dropped; gaps shorter than ``MIN_OFF`` within a speaker are filled.
MIN_ON, MIN_OFF = 0.3, 0.5
#: Step between the segmentation model's 10 s chunks, as a fraction of a chunk (0.5: one embedding
#: per speaker every 5 s; 0.1, sherpa's default, is 4 times slower for no gain on the bench).
CHUNK_STEP = 0.5
THREADS = 1  # deterministic and fair to the other jobs of a worker
LABEL = "Speaker {n}"
MAX_SPEAKERS = 50

ProgressFn = Callable[[float], None]
Vector = npt.NDArray[np.float32]
Turn3 = tuple[float, float, int]  # start, end (seconds), cluster


@dataclass(frozen=True)
class DiarizeOptions:
    """``speakers``: exactly that many; else between ``min_speakers`` and ``max_speakers``
    (automatic when unset)."""

    speakers: int | None = None
    min_speakers: int | None = None
    max_speakers: int | None = None

    def as_dict(self) -> dict[str, str | int | float | bool | None]:
        return dict(asdict(self))

    def bounds(self) -> tuple[int, int]:
        if self.speakers is not None:
            return self.speakers, self.speakers
        return self.min_speakers or 1, self.max_speakers or MAX_SPEAKERS


@dataclass(frozen=True)
class Turn:
    """A stretch of time (seconds) in which one speaker talks; turns of two speakers may overlap."""

    start: float
    end: float
    speaker: str


@dataclass(frozen=True)
class Diarization:
    """Speaker turns of the whole media, and the speaker of each word asked about (or None)."""

    turns: list[Turn]
    word_speakers: list[str | None]


# --- models -------------------------------------------------------------------------------------


def verified_models(model_dir: Path | None = None) -> tuple[Path, Path]:
    """The segmentation and embedding model files, checked against their pinned SHA-256.

    A missing or changed file raises :class:`~trax.errors.ModelError` before any native code
    reads it (a damaged ONNX file must fail the stage, not the worker process).
    """
    folder = model_dir or BUNDLED_DIR
    paths = []
    for name, expected in PINNED_SHA256.items():
        path = folder / name
        if _digest(path) != expected:
            raise errors.ModelError(
                f"diarization model {path} is missing or damaged (SHA-256 differs from the pinned "
                "value); reinstall trax or restore the file"
            )
        paths.append(path)
    return paths[0], paths[1]


_DIGESTS: dict[tuple[str, int, int], str] = {}


def _digest(path: Path) -> str | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _DIGESTS:
        _DIGESTS[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return _DIGESTS[key]


class _Models:
    """The segmentation session and the CAM++ embedding extractor, each on one thread."""

    def __init__(self, segmentation: Path, embedding: Path) -> None:
        import onnxruntime
        import sherpa_onnx

        emb = sherpa_onnx.SpeakerEmbeddingExtractorConfig(model=str(embedding), num_threads=THREADS)
        self.extractor = sherpa_onnx.SpeakerEmbeddingExtractor(emb)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = THREADS
        options.inter_op_num_threads = 1
        self.scorer: onnxruntime.InferenceSession = onnxruntime.InferenceSession(
            str(segmentation), options, providers=["CPUExecutionProvider"]
        )
        self.lock = threading.Lock()

    def score(self, chunk: AudioArray) -> npt.NDArray[np.float32]:
        """Powerset log-probabilities (frames x 7) of one 10 s chunk."""
        (scores,) = self.scorer.run(None, {"input": chunk[None, None, :]})
        return np.asarray(scores[0], dtype=np.float32)

    def embed(self, audio: AudioArray) -> Vector:
        stream = self.extractor.create_stream()
        stream.accept_waveform(sample_rate=SAMPLE_RATE, waveform=audio)
        stream.input_finished()
        vector = np.asarray(self.extractor.compute(stream), dtype=np.float32)
        return vector / max(float(np.linalg.norm(vector)), 1e-9)


_LOADED: dict[tuple[str, str], _Models] = {}
_LOAD_LOCK = threading.Lock()


def _models(model_dir: Path | None) -> _Models:
    segmentation, embedding = verified_models(model_dir)
    key = (str(segmentation), str(embedding))
    with _LOAD_LOCK:
        if key not in _LOADED:
            _LOADED[key] = _Models(segmentation, embedding)
        return _LOADED[key]


def engine_versions() -> dict[str, str]:
    return {n: importlib.metadata.version(n) for n in ("trax", "sherpa-onnx", "onnxruntime")}


# --- diarization --------------------------------------------------------------------------------


def diarize(
    media: MediaProbe,
    options: DiarizeOptions,
    words: Sequence[tuple[float, float]] = (),
    *,
    model_dir: Path | None = None,
    max_duration: float = 6 * 3600.0,
    window_seconds: float = WINDOW_SECONDS,
    progress: ProgressFn | None = None,
) -> Diarization:
    """Speaker turns of ``media`` and the speaker of each ``(start, end)`` in ``words``.

    Each window is segmented and embedded on its own; the embeddings of all windows are then
    clustered together (:mod:`trax.engine.diarization_chunks`). Speakers are labelled
    ``Speaker 1``, ``Speaker 2``… in order of first appearance. Blocking; whatever ``progress``
    raises stops the work and comes out of this call.
    """
    models = _models(model_dir)
    low, high = options.bounds()
    total = media.duration or 0.0
    windows: list[chunks.WindowChunks] = []
    for audio in decode_windows(media, window_seconds=window_seconds, max_duration=max_duration):
        start, end = audio.offset, audio.offset + audio.duration

        def report(fraction: float, start: float = start, end: float = end) -> None:
            if progress is not None and total > 0:
                progress(min((start + fraction * (end - start)) / total, 1.0) * 0.95)

        with models.lock:
            window = chunks.segment_window(
                audio.samples, start, _STEP, models.score, models.embed, report
            )
        windows.append(window)
    keys = [(w, key) for w, window in enumerate(windows) for key in window.keys]
    vectors = [v for window in windows for v in window.vectors]
    clean = [f for window in windows for f in window.clean]
    labels = chunks.assign(
        vectors, clean, CLUSTER_THRESHOLD, low, high, MIN_CLEAN_FRAMES, MIN_CLUSTER_SIZE
    )
    cluster_of: list[dict[tuple[int, int], int]] = [{} for _ in windows]
    for (w, key), g in zip(keys, labels, strict=True):
        cluster_of[w][key] = g
    clusters = max(labels, default=-1) + 1
    per_window = [
        chunks.window_turns(window, cluster_of[w], clusters, _STEP, MIN_ON, MIN_OFF)
        for w, window in enumerate(windows)
    ]
    result = _labelled(_joined(per_window), _speakers(windows, cluster_of, per_window, words))
    if progress is not None:
        progress(1.0)
    return result


_STEP = round(CHUNK_STEP * chunks.CHUNK_SAMPLES)


def _joined(per_window: list[list[Turn3]]) -> list[Turn3]:
    """Turns of all windows in time order; a speaker's turns that touch at a window's edge are
    joined."""
    out: list[Turn3] = []
    last: dict[int, int] = {}
    for s, e, g in sorted(t for turns in per_window for t in turns):
        i = last.get(g)
        if i is not None and s <= out[i][1] + MIN_OFF:
            out[i] = (out[i][0], max(out[i][1], e), g)
        else:
            last[g] = len(out)
            out.append((s, e, g))
    return out


# --- words --------------------------------------------------------------------------------------


def _speakers(
    windows: list[chunks.WindowChunks],
    cluster_of: list[dict[tuple[int, int], int]],
    per_window: list[list[Turn3]],
    words: Sequence[tuple[float, float]],
) -> list[int]:
    """The cluster of each word: the one whose turn covers its middle; in overlap, the one with
    the stronger frame activation over the word; with no turn there, the nearest (-1: none)."""
    every = [t for turns in per_window for t in turns]
    bounds = [w.offset for w in windows]
    out: list[int] = []
    for a, b in words:
        mid = (a + b) / 2
        w = max(bisect.bisect_right(bounds, mid) - 1, 0)
        local = per_window[w] if windows else []
        covering = sorted({g for s, e, g in local if s <= mid <= e})
        if len(covering) == 1:
            out.append(covering[0])
        elif not covering:
            out.append(_nearest(local or every, mid))
        else:
            score = chunks.word_activity(windows[w], cluster_of[w], _STEP, (a, b), covering)
            out.append(max(covering, key=lambda g: (score[g], -g)))
    return out


def _nearest(turns: Sequence[Turn3], t: float) -> int:
    if not turns:
        return -1
    return min(turns, key=lambda turn: (max(turn[0] - t, t - turn[1], 0.0), turn[2]))[2]


def _labelled(turns: list[Turn3], word_clusters: list[int]) -> Diarization:
    """Clusters named ``Speaker N`` in order of first appearance."""
    names: dict[int, str] = {}
    for _, _, g in turns:
        names.setdefault(g, LABEL.format(n=len(names) + 1))
    return Diarization(
        [Turn(round(float(s), 3), round(float(e), 3), names[g]) for s, e, g in turns],
        [names.get(g) for g in word_clusters],
    )


# --- the stage ----------------------------------------------------------------------------------


def diarized_document(
    media: MediaProbe,
    parent: TranscriptDocument,
    options: DiarizeOptions,
    *,
    model_dir: Path | None = None,
    progress: ProgressFn | None = None,
) -> TranscriptDocument:
    """``parent`` with a speaker on every word and segment: a segment whose words change speaker
    is split there (ids renumbered). Same input and options give byte-identical JSON."""
    spans: list[tuple[float, float]] = []
    for seg in parent.segments:
        spans.extend((w.start, w.end) for w in seg.words)
        if not seg.words:
            spans.append((seg.start, seg.end))
    found = diarize(
        media,
        options,
        spans,
        model_dir=model_dir,
        max_duration=parent.duration + 1.0,
        progress=progress,
    )
    speakers = iter(found.word_speakers)
    segments: list[Segment] = []
    for seg in parent.segments:
        if not seg.words:
            segments.append(seg.model_copy(update={"id": len(segments), "speaker": next(speakers)}))
            continue
        labelled = [(w, next(speakers)) for w in seg.words]
        for who, run in itertools.groupby(labelled, key=lambda pair: pair[1]):
            run_words = tuple(w for w, _ in run)
            segments.append(
                seg.model_copy(
                    update={
                        "id": len(segments),
                        "start": seg.start if run_words[0] is seg.words[0] else run_words[0].start,
                        "end": seg.end if run_words[-1] is seg.words[-1] else run_words[-1].end,
                        "text": "".join(w.text for w in run_words)
                        if len(run_words) < len(seg.words)
                        else seg.text,
                        "words": tuple(w.model_copy(update={"speaker": who}) for w in run_words),
                        "speaker": who,
                    }
                )
            )
    return parent.model_copy(
        update={
            "segments": tuple(segments),
            "provenance": Provenance(
                stage="diarized",
                model=MODEL_NAME,
                options={
                    **options.as_dict(),
                    "window_seconds": WINDOW_SECONDS,
                    "cluster_threshold": CLUSTER_THRESHOLD,
                },
                engine=engine_versions(),
            ),
        }
    )
