"""Speaker diarization as pyannote designs it, one window of audio at a time (ADR 0017).

The segmentation model (pyannote segmentation-3.0) sees 10 s chunks, half a chunk apart, and
finds up to three *local* speakers in each. Every (chunk, local speaker) with enough speech of
its own gets one CAM++ embedding. Only these small results are kept from a window (a 2-hour file
has a few thousand embeddings and a few MB of frame labels), so memory is bounded by the window,
not the file. Once every window is done, **all** embeddings of the file are clustered together,
as a whole-file run would cluster them, and each window's frames are relabelled with the global
clusters. Two local speakers of one window merge when their voices match: no cannot-link, no
linking step between windows.

Segmentation, embedding and reconstruction (top-k clusters per frame by the per-frame speaker
count, short turns dropped, short gaps filled) follow sherpa-onnx's ``OfflineSpeakerDiarization``,
whose C++ pipeline needs the whole file at once. Clustering follows pyannote's pipeline
(:func:`assign`): average linkage over the embeddings of clean speech, small clusters dissolved,
the rest assigned by centroid; sherpa's complete linkage over every embedding split a clipped
turn or a quiet speaker into a speaker of its own on the bench (ADR 0017).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from trax.engine.audio import SAMPLE_RATE, AudioArray

#: Segmentation chunk (samples) and the model's frame grid (pyannote segmentation-3.0).
CHUNK_SAMPLES = 10 * SAMPLE_RATE
FRAME_SHIFT, FRAME_SIZE = 270, 991
FRAME_STEP, FRAME_OFFSET = FRAME_SHIFT / SAMPLE_RATE, FRAME_SIZE / 2 / SAMPLE_RATE
#: A local speaker needs this many frames (about 0.17 s) of speech in a chunk to be embedded.
MIN_EMBED_FRAMES = 10

#: pyannote segmentation-3.0 powerset classes: which of the 3 local speakers each one holds.
POWERSET = np.array(
    [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1], [0, 1, 1]], dtype=np.float32
)
LOCAL_SPEAKERS = POWERSET.shape[1]

Vector = npt.NDArray[np.float32]
Scorer = Callable[[AudioArray], npt.NDArray[np.float32]]  # chunk -> frames x 7 log-probabilities
Embedder = Callable[[AudioArray], Vector]  # speech -> unit-length embedding
ChunkProgress = Callable[[float], None]


@dataclass
class WindowChunks:
    """What is kept of one window: each chunk's frame labels and activations, and embeddings."""

    offset: float  # seconds
    samples: int
    starts: list[int] = field(default_factory=list)  # chunk start, samples from the window start
    classes: list[npt.NDArray[np.uint8]] = field(default_factory=list)  # powerset class per frame
    activity: list[npt.NDArray[np.float16]] = field(default_factory=list)  # frames x 3
    keys: list[tuple[int, int]] = field(default_factory=list)  # (chunk, local speaker) embedded
    vectors: list[Vector] = field(default_factory=list)
    clean: list[int] = field(default_factory=list)  # frames of speech alone behind each vector

    def labels(self, chunk: int) -> npt.NDArray[np.int8]:
        return POWERSET[self.classes[chunk]].astype(np.int8)


def chunk_starts(samples: int, step: int) -> list[int]:
    """Where the 10 s chunks of ``samples`` start: every ``step``, plus a last padded chunk."""
    if samples <= CHUNK_SAMPLES:
        return [0]
    starts = list(range(0, samples - CHUNK_SAMPLES + 1, step))
    if (samples - CHUNK_SAMPLES) % step:
        starts.append(starts[-1] + step)
    return starts


def segment_window(
    audio: AudioArray,
    offset: float,
    step: int,
    score: Scorer,
    embed: Embedder,
    progress: ChunkProgress | None = None,
) -> WindowChunks:
    """Run the segmentation model on every chunk of ``audio`` and embed each local speaker."""
    window = WindowChunks(offset=offset, samples=len(audio))
    if len(audio) < SAMPLE_RATE // 2:  # nothing to diarize in half a second
        return window
    starts = chunk_starts(len(audio), step)
    for c, start in enumerate(starts):
        chunk = audio[start : start + CHUNK_SAMPLES]
        if len(chunk) < CHUNK_SAMPLES:
            chunk = np.pad(chunk, (0, CHUNK_SAMPLES - len(chunk)))
        logp = score(chunk)
        window.starts.append(start)
        window.classes.append(np.argmax(logp, axis=1).astype(np.uint8))
        window.activity.append((np.exp(logp) @ POWERSET).astype(np.float16))
        labels = window.labels(c)
        alone = labels * (labels.sum(axis=1, keepdims=True) < 2)
        for k in range(LOCAL_SPEAKERS):
            clean = int(alone[:, k].sum())
            # Speech alone when there is enough of it, else all of it (overlap included).
            used = alone[:, k] if clean >= MIN_EMBED_FRAMES else labels[:, k]
            pieces = _runs(used, start, len(labels), len(audio))
            if used.sum() >= MIN_EMBED_FRAMES and pieces:
                window.keys.append((c, k))
                window.clean.append(clean)
                window.vectors.append(embed(np.concatenate([audio[a:b] for a, b in pieces])))
        if progress is not None:
            progress((c + 1) / len(starts))
    return window


def _runs(
    active: npt.NDArray[np.int8], start: int, frames: int, limit: int
) -> list[tuple[int, int]]:
    """Sample ranges of the runs of active frames of one chunk (the last run ends one frame
    early, as pyannote's reference code does), clipped to the window."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], active, [0]])))
    out = []
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        lo = start + int(a / frames * CHUNK_SAMPLES)
        hi = min(start + int(min(int(b), frames - 1) / frames * CHUNK_SAMPLES), limit)
        if hi > lo:
            out.append((lo, hi))
    return out


# --- clustering -----------------------------------------------------------------------------------


def cluster(vectors: Sequence[Vector], threshold: float, low: int, high: int) -> list[int]:
    """Average-linkage clustering of unit vectors by cosine distance: merging stops at
    ``threshold``, or at ``high`` (never below ``low``) clusters when the threshold gives more
    (or fewer). Clusters are numbered in the order of their first vector. Memory: one n x n
    float32 matrix (36 MB for the 3,000 vectors of a 2-hour file)."""
    n = len(vectors)
    if n == 0:
        return []
    if high <= 1 or n == 1:
        return [0] * n
    stacked = np.stack(vectors).astype(np.float32)
    distance = stacked @ stacked.T
    np.subtract(1.0, distance, out=distance)
    np.maximum(distance, 0.0, out=distance)
    np.fill_diagonal(distance, np.inf)
    size = np.ones(n, dtype=np.float32)
    owner = np.arange(n)
    nearest, gap = distance.argmin(axis=1), distance.min(axis=1)
    clusters = n
    while clusters > max(low, 1):
        i = int(np.argmin(gap))
        if clusters <= high and gap[i] >= threshold:
            break
        a, b = sorted((i, int(nearest[i])))
        merged = (size[a] * distance[a] + size[b] * distance[b]) / (size[a] + size[b])
        distance[a], distance[:, a] = merged, merged
        distance[b], distance[:, b] = np.inf, np.inf
        distance[a, a] = np.inf
        size[a] += size[b]
        owner[owner == b] = a
        gap[b] = np.inf
        clusters -= 1
        stale = np.flatnonzero((nearest == a) | (nearest == b) | (owner == a))
        stale = stale[np.isfinite(gap[stale])]
        nearest[stale], gap[stale] = distance[stale].argmin(axis=1), distance[stale].min(axis=1)
        closer = merged < gap
        nearest[closer], gap[closer] = a, merged[closer]
    numbers: dict[int, int] = {}
    return [numbers.setdefault(int(r), len(numbers)) for r in owner]


def assign(
    vectors: Sequence[Vector],
    clean: Sequence[int],
    threshold: float,
    low: int,
    high: int,
    min_clean: int,
    min_size: int,
) -> list[int]:
    """The cluster of each vector, as pyannote's pipeline finds them: only vectors with at least
    ``min_clean`` frames of speech alone behind them are clustered (short, clipped pieces of
    speech make poor embeddings and would form clusters of their own); clusters of fewer than
    ``min_size`` of them (at most a tenth of all) are dissolved; every other vector goes to the
    remaining cluster whose mean vector is the most similar."""
    train = [i for i, frames in enumerate(clean) if frames >= min_clean]
    if len(train) < 2:
        train = list(range(len(vectors)))
    if not train:
        return []
    labels = cluster([vectors[i] for i in train], threshold, low, high)
    count = max(labels) + 1
    sizes = np.bincount(labels, minlength=count)
    large = sizes >= min(min_size, max(1, round(0.1 * len(train))))
    if large.sum() < max(low, 1) or large.all():
        large[:] = True
    centroids = np.zeros((count, len(vectors[0])), dtype=np.float32)
    for i, g in zip(train, labels, strict=True):
        centroids[g] += vectors[i]
    centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-9)
    scores = np.stack(vectors) @ centroids.T
    scores[:, ~large] = -np.inf
    out = [int(g) for g in np.argmax(scores, axis=1)]
    for i, g in zip(train, labels, strict=True):
        if large[g]:
            out[i] = g
    numbers: dict[int, int] = {}
    return [numbers.setdefault(g, len(numbers)) for g in out]


# --- reconstruction -------------------------------------------------------------------------------


def window_turns(
    window: WindowChunks,
    cluster_of: dict[tuple[int, int], int],
    clusters: int,
    step: int,
    min_on: float,
    min_off: float,
) -> list[tuple[float, float, int]]:
    """Turns (seconds, file time) of one window with global cluster numbers: at each frame the
    most-voted clusters, as many as the chunks' mean count of local speakers there."""
    if not window.starts or clusters == 0:
        return []
    chunks = len(window.starts)
    frames = len(window.classes[0])
    total = (CHUNK_SAMPLES + (chunks - 1) * step) // FRAME_SHIFT + 1
    count = np.zeros(total, dtype=np.float32)
    weight = np.zeros(total, dtype=np.float32)
    votes = np.zeros((total, clusters), dtype=np.int32)
    for c in range(chunks):
        first = int(c * step / FRAME_SHIFT + 0.5)
        labels = window.labels(c)
        count[first : first + frames] += labels.sum(axis=1)
        weight[first : first + frames] += 1
        relabelled = np.zeros((frames, clusters), dtype=np.int32)
        for k in range(LOCAL_SPEAKERS):
            g = cluster_of.get((c, k))
            if g is not None:
                relabelled[:, g] |= labels[:, k]
        votes[first : first + frames] += relabelled
    last = min(total, window.samples // FRAME_SHIFT + 1)
    speakers = (count[:last] / (weight[:last] + 1e-12) + 0.5).astype(np.int32)
    votes = votes[:last]
    active = np.zeros_like(votes, dtype=bool)
    order = np.argsort(-votes, axis=1, kind="stable")
    for top in range(min(int(speakers.max(initial=0)), clusters)):
        rows = np.flatnonzero(speakers > top)
        picked = order[rows, top]
        has_vote = votes[rows, picked] > 0
        active[rows[has_vote], picked[has_vote]] = True
    turns: list[tuple[float, float, int]] = []
    for g in range(clusters):
        turns.extend(_turns(active[:, g], g, window.offset, min_on, min_off))
    return sorted(turns)


def _turns(
    active: npt.NDArray[np.bool_], g: int, offset: float, min_on: float, min_off: float
) -> list[tuple[float, float, int]]:
    edges = np.flatnonzero(np.diff(np.concatenate([[0], active.astype(np.int8), [0]])))
    merged: list[list[float]] = []
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        start = offset + a * FRAME_STEP + FRAME_OFFSET
        end = offset + min(int(b), len(active) - 1) * FRAME_STEP + FRAME_OFFSET
        if merged and start - merged[-1][1] <= min_off:
            merged[-1][1] = end
        else:
            merged.append([start, end])
    return [(s, e, g) for s, e in merged if e - s > min_on]


def word_activity(
    window: WindowChunks,
    cluster_of: dict[tuple[int, int], int],
    step: int,
    span: tuple[float, float],
    candidates: Sequence[int],
) -> dict[int, float]:
    """Mean frame activation of each candidate cluster over ``span`` (file seconds), averaged over
    the chunks that see it: the score that settles a word in overlapped speech."""
    a, b = span
    sums = dict.fromkeys(candidates, 0.0)
    seen = 0
    for c, start in enumerate(window.starts):
        origin = window.offset + start / SAMPLE_RATE + FRAME_OFFSET
        times = origin + FRAME_STEP * np.arange(len(window.classes[c]))
        frames = (times >= a) & (times <= b)
        if not frames.any():
            continue
        seen += 1
        for g in candidates:
            tracks = [k for k in range(LOCAL_SPEAKERS) if cluster_of.get((c, k)) == g]
            if tracks:
                scores = window.activity[c][frames][:, tracks].astype(np.float32)
                sums[g] += float(scores.max(axis=1).mean())
    return {g: s / max(seen, 1) for g, s in sums.items()}
