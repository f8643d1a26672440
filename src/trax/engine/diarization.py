"""Who spoke when: speaker turns from the audio, and each word of a transcript given a speaker.

Turns come from sherpa-onnx's offline diarization (pyannote segmentation-3.0, which finds up to
three local speakers per 10 s chunk including overlapped speech; CAM++ speaker embeddings; and
clustering), run on windows of :data:`WINDOW_SECONDS` so memory stays bounded whatever the file's
length. Speakers of different windows are linked by the cosine similarity of their embeddings
(average linkage; two speakers of one window are never merged). Both models ship with Trax as ONNX
files pinned by SHA-256 (ADR 0017); nothing is downloaded and torch is never loaded.

A word goes to the speaker whose turn covers its middle; where two turns overlap there, to the
speaker the segmentation model scores higher over the word's frames (not the first one found).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import itertools
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from trax import errors
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

#: Audio diarized at once. Memory grows with it (about 0.3 GB at 10 minutes); speakers of
#: different windows are linked by embedding.
WINDOW_SECONDS = 600.0
#: sherpa-onnx clustering threshold (cosine distance; smaller finds more speakers).
CLUSTER_THRESHOLD = 0.4
#: Speakers of two windows are the same person when their embeddings are at least this similar
#: (CAM++ cosine: the same voice in two windows scores 0.9+ on the bench, two voices of one call
#: about 0.5 to 0.75; two speakers of one window are never merged whatever their score).
LINK_SIMILARITY = 0.6
#: Turns shorter than this are dropped; gaps shorter than ``MIN_OFF`` within a speaker are filled.
MIN_ON, MIN_OFF = 0.3, 0.5
#: Speech of one speaker used for its window embedding, longest turns first.
EMBEDDING_SECONDS = 60.0
#: Step between the segmentation model's 10 s chunks, as a fraction of a chunk (0.5: one embedding
#: per speaker every 5 s; 0.1, sherpa's default, is 4 times slower for no gain on the bench).
CHUNK_STEP = 0.5
THREADS = 1  # deterministic and fair to the other jobs of a worker
LABEL = "Speaker {n}"
MAX_SPEAKERS = 50

ProgressFn = Callable[[float], None]
Vector = npt.NDArray[np.float32]


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
    """The loaded sherpa-onnx pipeline, embedding extractor and segmentation session."""

    def __init__(self, segmentation: Path, embedding: Path) -> None:
        import onnxruntime
        import sherpa_onnx

        seg = sherpa_onnx.OfflineSpeakerSegmentationModelConfig(
            pyannote=sherpa_onnx.OfflineSpeakerSegmentationPyannoteModelConfig(
                model=str(segmentation), window_shift_ratio=CHUNK_STEP
            ),
            num_threads=THREADS,
        )
        emb = sherpa_onnx.SpeakerEmbeddingExtractorConfig(model=str(embedding), num_threads=THREADS)
        self._sherpa = sherpa_onnx
        self._seg, self._emb = seg, emb
        self.extractor = sherpa_onnx.SpeakerEmbeddingExtractor(emb)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = THREADS
        options.inter_op_num_threads = 1
        self.scorer: onnxruntime.InferenceSession = onnxruntime.InferenceSession(
            str(segmentation), options, providers=["CPUExecutionProvider"]
        )
        self.lock = threading.Lock()

    def pipeline(self, clusters: int) -> Any:
        sherpa = self._sherpa
        self._seg.pyannote.window_shift_ratio = CHUNK_STEP
        config = sherpa.OfflineSpeakerDiarizationConfig(
            segmentation=self._seg,
            embedding=self._emb,
            clustering=sherpa.FastClusteringConfig(
                num_clusters=clusters, threshold=CLUSTER_THRESHOLD
            ),
            min_duration_on=MIN_ON,
            min_duration_off=MIN_OFF,
        )
        if not config.validate():
            raise errors.ModelError("diarization models: sherpa-onnx refused the configuration")
        return sherpa.OfflineSpeakerDiarization(config)

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


@dataclass
class _Window:
    """One window's local speakers: their turns, words and embedding."""

    turns: list[tuple[float, float, int]]
    words: dict[int, int] = field(default_factory=dict)  # word index -> local speaker
    vectors: dict[int, Vector] = field(default_factory=dict)


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

    Speakers are labelled ``Speaker 1``, ``Speaker 2``… in order of first appearance. Blocking;
    whatever ``progress`` raises stops the work and comes out of this call.
    """
    models = _models(model_dir)
    low, high = options.bounds()
    total = media.duration or 0.0
    mids = [(a + b) / 2 for a, b in words]
    windows: list[_Window] = []
    for audio in decode_windows(media, window_seconds=window_seconds, max_duration=max_duration):
        start, end = audio.offset, audio.offset + audio.duration

        def report(fraction: float, start: float = start, end: float = end) -> None:
            if progress is not None and total > 0:
                progress(min((start + fraction * (end - start)) / total, 1.0) * 0.95)

        turns = _window_turns(models, audio.samples, low, high, report)
        window = _Window([(a + start, b + start, k) for a, b, k in turns])
        inside = [i for i, m in enumerate(mids) if start <= m < end]
        _assign(models, window, audio.samples, start, words, inside)
        if windows or not total or end < total - 1.0:  # more than one window: link them
            window.vectors = _vectors(models, window, audio.samples, start)
            _drop_unlinkable(window, mids)
        windows.append(window)
        report(1.0)
    assigned = {i for w in windows for i in w.words}
    for i, m in enumerate(mids):  # words past the decoded audio
        if windows and i not in assigned:
            windows[-1].words[i] = _nearest(windows[-1].turns, m)
    if len(windows) > 1:
        global_of = _link(windows, low, high)
    else:
        global_of = {(0, k): k for _, _, k in (windows[0].turns if windows else [])}
    result = _labelled(windows, global_of, len(words))
    if progress is not None:
        progress(1.0)
    return result


def _window_turns(
    models: _Models, audio: AudioArray, low: int, high: int, report: ProgressFn
) -> list[tuple[float, float, int]]:
    """Local turns of one window, re-clustered to ``low``/``high`` speakers when outside them."""
    turns = _run(models, audio, -1 if low != high else low, report)
    found = len({k for _, _, k in turns})
    if found and (found > high or found < low) and low != high:
        turns = _run(models, audio, high if found > high else low, report)
    if high == 1:  # sherpa-onnx does not cluster to one speaker: everyone is speaker 0
        turns = [(s, e, 0) for s, e, _ in turns]
    return turns


def _run(
    models: _Models, audio: AudioArray, clusters: int, report: ProgressFn
) -> list[tuple[float, float, int]]:
    if len(audio) < SAMPLE_RATE // 2:  # nothing to diarize in half a second
        return []
    raised: list[BaseException] = []

    def callback(done: int, total: int) -> int:
        try:
            report(done / max(total, 1) * 0.9)
        except BaseException as exc:  # cancel or a lost lease: stop sherpa, raise it below
            raised.append(exc)
            return 1
        return 0

    with models.lock:
        result = models.pipeline(clusters).process(audio, callback=callback)
    if raised:
        raise raised[0]
    segments = result.sort_by_start_time()
    return [(float(s.start), float(s.end), int(s.speaker)) for s in segments]


# --- words --------------------------------------------------------------------------------------

#: pyannote segmentation-3.0 powerset classes: which of the 3 local speakers each one holds.
_POWERSET = np.array(
    [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1], [0, 1, 1]], dtype=np.float32
)
_CHUNK = 10 * SAMPLE_RATE
_FRAME_STEP, _FRAME_OFFSET = 270 / SAMPLE_RATE, 991 / 2 / SAMPLE_RATE


def _assign(
    models: _Models,
    window: _Window,
    audio: AudioArray,
    offset: float,
    words: Sequence[tuple[float, float]],
    inside: Iterable[int],
) -> None:
    """Give each word in ``inside`` the local speaker whose turn covers its middle; in overlap,
    the one with the stronger frame score; with no turn there, the nearest."""
    overlapped: dict[int, list[int]] = {}
    for i in inside:
        a, b = words[i]
        mid = (a + b) / 2
        covering = sorted({k for s, e, k in window.turns if s <= mid <= e})
        if len(covering) == 1:
            window.words[i] = covering[0]
        elif not covering:
            window.words[i] = _nearest(window.turns, mid)
        else:
            overlapped[i] = covering
    if overlapped:
        _resolve_overlap(models, window, audio, offset, words, overlapped)


def _nearest(turns: Sequence[tuple[float, float, int]], t: float) -> int:
    if not turns:
        return -1
    return min(turns, key=lambda turn: (max(turn[0] - t, t - turn[1], 0.0), turn[2]))[2]


def _resolve_overlap(
    models: _Models,
    window: _Window,
    audio: AudioArray,
    offset: float,
    words: Sequence[tuple[float, float]],
    overlapped: dict[int, list[int]],
) -> None:
    """Score overlapped words with the segmentation model's frame activations: each local
    speaker is matched to the model's output track that agrees best with its turns."""
    for i, candidates in overlapped.items():
        a, b = words[i]
        centre = round(((a + b) / 2 - offset) * SAMPLE_RATE)
        first = int(min(max(centre - _CHUNK // 2, 0), max(len(audio) - _CHUNK, 0)))
        chunk = audio[first : first + _CHUNK]
        chunk = np.pad(chunk, (0, _CHUNK - len(chunk))) if len(chunk) < _CHUNK else chunk
        with models.lock:
            (scores,) = models.scorer.run(None, {"input": chunk[None, None, :]})
        activity = np.exp(scores[0]) @ _POWERSET  # frames x 3 local tracks
        origin = offset + first / SAMPLE_RATE + _FRAME_OFFSET
        times = origin + _FRAME_STEP * np.arange(len(activity))
        track = _tracks(window.turns, candidates, activity, times)
        frames = (times >= a) & (times <= b)
        if not frames.any():
            frames = np.abs(times - (a + b) / 2) == np.abs(times - (a + b) / 2).min()
        window.words[i] = max(candidates, key=lambda k: (activity[frames, track[k]].mean(), -k))


def _tracks(
    turns: Sequence[tuple[float, float, int]],
    candidates: Sequence[int],
    activity: npt.NDArray[np.float32],
    times: npt.NDArray[np.floating[Any]],
) -> dict[int, int]:
    """For each candidate speaker, the output track whose activity best matches its turns."""
    agreement = np.zeros((len(candidates), activity.shape[1]))
    for row, k in enumerate(candidates):
        mask = np.zeros(len(times), dtype=np.float32)
        for s, e, who in turns:
            if who == k:
                mask[(times >= s) & (times <= e)] = 1.0
        agreement[row] = (2 * mask[:, None] - 1).T @ activity  # + inside its turns, - outside
    chosen: dict[int, int] = {}
    for flat in np.argsort(-agreement, axis=None):
        row, col = divmod(int(flat), activity.shape[1])
        if candidates[row] not in chosen and col not in chosen.values():
            chosen[candidates[row]] = col
    return chosen


# --- linking windows ----------------------------------------------------------------------------


def _vectors(
    models: _Models, window: _Window, audio: AudioArray, offset: float
) -> dict[int, Vector]:
    """One embedding per local speaker, from its longest turns where no one else talks."""
    out: dict[int, Vector] = {}
    for k in sorted({k for _, _, k in window.turns}):
        own = sorted(((s, e) for s, e, who in window.turns if who == k), key=lambda t: t[0] - t[1])
        pieces, seconds = [], 0.0
        for s, e in own:
            if seconds >= EMBEDDING_SECONDS:
                break
            piece = audio[round((s - offset) * SAMPLE_RATE) : round((e - offset) * SAMPLE_RATE)]
            pieces.append(piece)
            seconds += len(piece) / SAMPLE_RATE
        joined = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
        if len(joined) >= SAMPLE_RATE // 2:
            out[k] = models.embed(joined)
    return out


def _drop_unlinkable(window: _Window, mids: Sequence[float]) -> None:
    """Local speakers with too little speech for an embedding cannot be linked to another
    window: their turns are dropped and their words go to the nearest remaining speaker."""
    kept = [t for t in window.turns if t[2] in window.vectors]
    if len(kept) == len(window.turns) or not kept:
        return
    window.turns = kept
    for i, k in list(window.words.items()):
        if k not in window.vectors:
            window.words[i] = _nearest(kept, mids[i])


def _link(windows: list[_Window], low: int, high: int) -> dict[tuple[int, int], int]:
    """Average-linkage clustering of every window's speakers by cosine similarity; two speakers
    of one window never merge. Stops below :data:`LINK_SIMILARITY` unless more than ``high``
    clusters remain, and never goes below ``low``."""
    clusters: list[tuple[set[tuple[int, int]], list[Vector]]] = []
    for w, window in enumerate(windows):
        for k in sorted({k for _, _, k in window.turns}):
            vector = window.vectors.get(k)
            clusters.append(({(w, k)}, [vector] if vector is not None else []))
    while len(clusters) > max(low, 1):
        best, pair = -2.0, (-1, -1)
        for i in range(len(clusters)):
            for j in range(i + 1, len(clusters)):
                windows_i = {w for w, _ in clusters[i][0]}
                if windows_i & {w for w, _ in clusters[j][0]}:
                    continue
                score = _similarity(clusters[i][1], clusters[j][1])
                if score > best:
                    best, pair = score, (i, j)
        if pair[0] < 0 or (best < LINK_SIMILARITY and len(clusters) <= high):
            break
        i, j = pair
        clusters[i] = (clusters[i][0] | clusters[j][0], clusters[i][1] + clusters[j][1])
        del clusters[j]
    return {member: n for n, (members, _) in enumerate(clusters) for member in members}


def _similarity(a: list[Vector], b: list[Vector]) -> float:
    if not a or not b:
        return -1.0
    return float(np.mean(np.stack(a) @ np.stack(b).T))


def _labelled(
    windows: list[_Window], global_of: dict[tuple[int, int], int], count: int
) -> Diarization:
    """Global speakers named in order of first appearance; overlapping same-speaker turns joined."""
    raw = sorted(
        (s, e, global_of[(w, k)]) for w, win in enumerate(windows) for s, e, k in win.turns
    )
    names: dict[int, str] = {}
    for _, _, g in raw:
        names.setdefault(g, LABEL.format(n=len(names) + 1))
    turns: list[Turn] = []
    for s, e, g in raw:
        last = next((t for t in reversed(turns) if t.speaker == names[g]), None)
        if last is not None and s <= last.end:
            turns[turns.index(last)] = Turn(last.start, max(last.end, e), last.speaker)
        else:
            turns.append(Turn(round(s, 3), round(e, 3), names[g]))
    speakers: list[str | None] = [None] * count
    for w, win in enumerate(windows):
        for i, k in win.words.items():
            if (w, k) in global_of:
                speakers[i] = names[global_of[(w, k)]]
    return Diarization(turns, speakers)


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
                    "link_similarity": LINK_SIMILARITY,
                },
                engine=engine_versions(),
            ),
        }
    )
