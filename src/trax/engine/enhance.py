"""The enhanced stage: an LLM rewrites a transcript for readability without losing its timing.

The parent's segments are grouped into chunks of about ``chunk_words`` words; each chunk is sent
with the ``overlap_words`` words before it as read-only context, so chunk edges read naturally
and the model's context is never exceeded. Chunks are sent in parallel (at most the configured
concurrency) and every reply is checked by the drift guard (:func:`~trax.engine.alignment.drift`):
a rewrite that edits too many words or brings in new content words is refused and the chunk keeps
its original words (counted in ``provenance.guard``). Accepted rewrites are aligned back onto the
parent's word times (:func:`~trax.engine.alignment.align`), and words go to the segment of the
source word they align with, so segment times, speakers and languages carry over; a paragraph
break the model made starts a new segment inside one.

A last call derives the extras (summary, chapters with start times, keywords) as JSON against a
schema, validated with pydantic; a malformed answer is asked again once, then left out.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass
from importlib import metadata

from pydantic import BaseModel, Field, ValidationError

from trax.engine.alignment import align, drift, normalise
from trax.engine.llm import ChatClient, LlmSession
from trax.engine.result import (
    Chapter,
    Extras,
    Guard,
    Provenance,
    Refusal,
    Segment,
    TranscriptDocument,
    Word,
)

STAGE = "enhanced"
#: Changes to the prompts below change this: cached replies of another version are not reused.
PROMPT_VERSION = "enhance-1"
SYSTEM_PROMPT = (
    "You edit speech-recognition transcripts for readability. Fix punctuation, casing and "
    "paragraphs, and words that were obviously misheard given the context and the vocabulary. "
    "Keep the speaker's own words and their order: never summarise, explain, add or drop "
    "content. Answer with the edited text inside <transcript> only, nothing else. Separate "
    "paragraphs with a blank line."
)
EXTRAS_PROMPT = (
    "Read this transcript (each line starts with its time in seconds) and answer in JSON: a "
    "summary of at most five sentences, chapters (start time in seconds of the line where each "
    "topic begins, and a short title; at most {chapters}), and at most {keywords} keywords."
)
#: The extras read at most this many words of the transcript (evenly sampled lines beyond).
EXTRAS_MAX_WORDS = 6000
MAX_CHAPTERS, MAX_KEYWORDS = 12, 12
#: Reply budget: a rewrite may be this much longer than its input (in tokens), plus a margin.
REPLY_TOKENS_PER_WORD, REPLY_TOKENS_MARGIN = 3, 64
EXTRAS_REPLY_TOKENS = 1200
#: Tries of the extras call when the answer does not validate.
EXTRAS_TRIES = 2
#: How often the main thread looks at the calls in flight (and reports progress).
POLL_S = 0.25
_TAGS = re.compile(r"</?\s*transcript\s*>", re.IGNORECASE)
_PARAGRAPH = re.compile(r"\n\s*\n")
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")


@dataclass(frozen=True)
class EnhanceOptions:
    """The enhanced stage's recipe. ``model`` is filled in from the settings when left out."""

    model: str | None = None
    chunk_words: int = 250
    overlap_words: int = 40
    max_edit_ratio: float = 0.4
    max_new_words: float = 0.1
    vocabulary: str | None = None
    extras: bool = True
    prompt_version: str = PROMPT_VERSION

    def as_dict(self) -> dict[str, str | int | float | bool | None]:
        return asdict(self)


@dataclass(frozen=True)
class _Chunk:
    segments: tuple[int, ...]
    words: tuple[Word, ...]
    owners: tuple[int, ...]  # the segment index of each word
    context: str


@dataclass(frozen=True)
class _Outcome:
    words: list[Word]
    owners: list[int]
    breaks: frozenset[int]  # positions in ``words`` that start a paragraph
    refusal: Refusal | None


ProgressFn = Callable[[float], None]


def enhance(
    parent: TranscriptDocument,
    options: EnhanceOptions,
    llm: LlmSession,
    progress: ProgressFn | None = None,
) -> TranscriptDocument:
    """``parent`` rewritten for readability, its word times kept (blocking)."""
    report = progress or (lambda _f: None)
    segments = [_with_words(s) for s in parent.segments]
    chunks = _chunks(segments, options.chunk_words, options.overlap_words)
    vocabulary = _vocabulary(options, parent)
    stop = threading.Event()
    client = ChatClient(llm, stop)
    calls = len(chunks) + (1 if options.extras and chunks else 0)
    try:
        tasks = [functools.partial(_rewrite, client, c, options, vocabulary) for c in chunks]
        outcomes = _run_all(
            tasks, llm.config.concurrency, stop, lambda done: report(done / max(1, calls))
        )
        new_segments = _segments(segments, chunks, outcomes)
        extras = None
        if options.extras and new_segments:
            extras = _extras(client, new_segments, parent.duration)
    finally:
        client.close()
    report(1.0)
    refusals = tuple(o.refusal for o in outcomes if o.refusal is not None)
    guard = Guard(
        chunks=len(chunks),
        rewritten=len(chunks) - len(refusals),
        kept_original=len(refusals),
        refused=refusals,
    )
    provenance = Provenance(
        stage=STAGE,
        model=llm.config.model,
        options={**options.as_dict(), "model": llm.config.model},
        engine=_engine_versions(),
        guard=guard,
    )
    return TranscriptDocument(
        language=parent.language,
        language_probability=parent.language_probability,
        duration=parent.duration,
        segments=tuple(new_segments),
        provenance=provenance,
        extras=extras,
    )


def _engine_versions() -> dict[str, str]:
    found = {"prompt": PROMPT_VERSION}
    for name in ("httpx", "tenacity"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:  # pragma: no cover - both are dependencies
            continue
    return found


def _vocabulary(options: EnhanceOptions, parent: TranscriptDocument) -> frozenset[str]:
    """The option's terms and the parent's decoding hints (hotwords, initial prompt)."""
    texts = [options.vocabulary or ""]
    texts += [str(parent.provenance.options.get(k) or "") for k in ("hotwords", "initial_prompt")]
    return frozenset(normalise(t) for text in texts for t in re.split(r"[\s,;]+", text) if t)


def _with_words(segment: Segment) -> Segment:
    """A segment with word timings (interpolated over the segment when it has none)."""
    if segment.words or not segment.text.strip():
        return segment
    texts = segment.text.split()
    step = (segment.end - segment.start) / len(texts)
    words = tuple(
        Word(
            start=round(segment.start + k * step, 3),
            end=round(segment.start + (k + 1) * step, 3),
            text=" " + t,
            probability=0.0,
        )
        for k, t in enumerate(texts)
    )
    return segment.model_copy(update={"words": words})


def _chunks(segments: Sequence[Segment], size: int, overlap: int) -> list[_Chunk]:
    """Consecutive segments of about ``size`` words (a longer segment is a chunk of its own),
    each with the ``overlap`` words before it as context."""
    groups: list[list[int]] = []
    count = 0
    for index, segment in enumerate(segments):
        if not segment.words:
            continue
        if groups and count + len(segment.words) <= size:
            groups[-1].append(index)
            count += len(segment.words)
        else:
            groups.append([index])
            count = len(segment.words)
    chunks: list[_Chunk] = []
    before: list[Word] = []
    for group in groups:
        words = [w for i in group for w in segments[i].words]
        owners = [i for i in group for _ in segments[i].words]
        context = " ".join(w.text.strip() for w in before[-overlap:]) if overlap else ""
        chunks.append(_Chunk(tuple(group), tuple(words), tuple(owners), context))
        before += words
    return chunks


def _run_all(
    tasks: Sequence[Callable[[], _Outcome]],
    concurrency: int,
    stop: threading.Event,
    progress: Callable[[int], None],
) -> list[_Outcome]:
    """Run ``tasks`` on at most ``concurrency`` threads; results in order. ``progress`` is
    called from this thread: what it raises stops the rest, as does a failed task."""
    if not tasks:
        return []
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="trax-llm")
    futures: list[Future[_Outcome]] = [pool.submit(task) for task in tasks]
    try:
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=POLL_S, return_when=FIRST_COMPLETED)
            for future in done:
                future.result()  # a failed call fails the stage now
            progress(len(futures) - len(pending))
        return [f.result() for f in futures]
    except BaseException:
        stop.set()
        raise
    finally:
        pool.shutdown(wait=stop.is_set() is False, cancel_futures=True)


def _prompt(chunk: _Chunk, vocabulary: frozenset[str], options: EnhanceOptions) -> str:
    parts = []
    if options.vocabulary:
        parts.append(f"Vocabulary: {options.vocabulary.strip()}")
    elif vocabulary:
        parts.append(f"Vocabulary: {', '.join(sorted(vocabulary))}")
    if chunk.context:
        parts.append(f"Text before (for context only, do not repeat it):\n{chunk.context}")
    text = " ".join(w.text.strip() for w in chunk.words)
    parts.append(f"<transcript>\n{text}\n</transcript>")
    return "\n\n".join(parts)


def _rewrite(
    client: ChatClient, chunk: _Chunk, options: EnhanceOptions, vocabulary: frozenset[str]
) -> _Outcome:
    messages = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": _prompt(chunk, vocabulary, options)},
    ]
    max_tokens = len(chunk.words) * REPLY_TOKENS_PER_WORD + REPLY_TOKENS_MARGIN
    reply = client.complete(messages, prompt_version=options.prompt_version, max_tokens=max_tokens)
    rewrite, breaks = _parse_rewrite(reply.text)
    source = [w.text.strip() for w in chunk.words]
    measured = drift(source, rewrite, vocabulary)
    allowed = max(1, int(options.max_new_words * len(source)))
    if (
        not rewrite
        or measured.edit_ratio > options.max_edit_ratio
        or (len(measured.new_words) > allowed)
    ):
        refusal = Refusal(
            start=chunk.words[0].start,
            end=chunk.words[-1].end,
            edit_ratio=measured.edit_ratio,
            new_words=measured.new_words[:20],
        )
        return _Outcome(list(chunk.words), list(chunk.owners), frozenset(), refusal)
    aligned = align(chunk.words, rewrite, chunk.words[0].start, chunk.words[-1].end)
    owners = [chunk.owners[a.source_index] for a in aligned]
    return _Outcome([a.word for a in aligned], owners, breaks, None)


def _parse_rewrite(text: str) -> tuple[list[str], frozenset[int]]:
    """The rewrite's words, and the word positions that start a paragraph."""
    words: list[str] = []
    breaks: set[int] = set()
    for paragraph in _PARAGRAPH.split(_TAGS.sub("", text).strip()):
        if words:
            breaks.add(len(words))
        words += paragraph.split()
    return words, frozenset(breaks)


def _segments(
    segments: Sequence[Segment], chunks: Sequence[_Chunk], outcomes: Sequence[_Outcome]
) -> list[Segment]:
    """The new segments: each parent segment's words (split where a paragraph starts)."""
    by_segment: dict[int, list[list[Word]]] = {}
    for outcome in outcomes:
        for k, (word, owner) in enumerate(zip(outcome.words, outcome.owners, strict=True)):
            pieces = by_segment.setdefault(owner, [[]])
            if k in outcome.breaks and pieces[-1]:
                pieces.append([])
            pieces[-1].append(word)
    out: list[Segment] = []
    covered = {i for c in chunks for i in c.segments}
    for index, segment in enumerate(segments):
        if index not in covered:
            continue
        for words in by_segment.get(index, []):
            if not words:
                continue
            out.append(
                segment.model_copy(
                    update={
                        "id": len(out),
                        "start": words[0].start,
                        "end": max(words[-1].end, words[0].start),
                        "text": "".join(w.text for w in words),
                        "words": tuple(words),
                    }
                )
            )
    return out


class _ChapterOut(BaseModel):
    start: float = Field(ge=0)
    title: str = Field(min_length=1, max_length=200)


class _ExtrasOut(BaseModel):
    summary: str = Field(min_length=1, max_length=4000)
    chapters: list[_ChapterOut] = Field(max_length=100)
    keywords: list[str] = Field(max_length=100)


EXTRAS_SCHEMA = {
    "type": "object",
    "properties": {
        "summary": {"type": "string"},
        "chapters": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"start": {"type": "number"}, "title": {"type": "string"}},
                "required": ["start", "title"],
                "additionalProperties": False,
            },
        },
        "keywords": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["summary", "chapters", "keywords"],
    "additionalProperties": False,
}
RESPONSE_FORMAT = {
    "type": "json_schema",
    "json_schema": {"name": "transcript_extras", "strict": True, "schema": EXTRAS_SCHEMA},
}


def parse_extras(text: str, segments: Sequence[Segment], duration: float) -> Extras | None:
    """The extras in ``text`` (JSON, maybe fenced), checked; None when it does not validate.
    Chapter starts snap to the nearest segment start; keywords are de-duplicated."""
    try:
        raw = _ExtrasOut.model_validate_json(_FENCE.sub("", text.strip()))
    except (ValidationError, ValueError):
        return None
    starts = [s.start for s in segments] or [0.0]
    chapters: dict[float, Chapter] = {}
    for c in raw.chapters:
        snapped = min(starts, key=lambda s: abs(s - min(c.start, duration)))
        chapters.setdefault(snapped, Chapter(start=snapped, title=c.title.strip()))
    unique: dict[str, str] = {}
    for keyword in (k.strip() for k in raw.keywords):
        if keyword:
            unique.setdefault(keyword.casefold(), keyword)
    keywords = list(unique.values())
    return Extras(
        summary=raw.summary.strip(),
        chapters=tuple(sorted(chapters.values(), key=lambda c: c.start))[:MAX_CHAPTERS],
        keywords=tuple(keywords[:MAX_KEYWORDS]),
    )


def _extras(client: ChatClient, segments: Sequence[Segment], duration: float) -> Extras | None:
    lines = [f"[{s.start:.1f}] {s.text.strip()}" for s in segments]
    words = sum(len(s.words) for s in segments)
    if words > EXTRAS_MAX_WORDS:  # evenly sampled lines: the whole span, within the budget
        keep = max(1, len(lines) * EXTRAS_MAX_WORDS // words)
        lines = [lines[k * len(lines) // keep] for k in range(keep)]
    messages = [
        {
            "role": "system",
            "content": EXTRAS_PROMPT.format(chapters=MAX_CHAPTERS, keywords=MAX_KEYWORDS),
        },
        {"role": "user", "content": "\n".join(lines)},
    ]
    for _ in range(EXTRAS_TRIES):
        reply = client.complete(
            messages,
            prompt_version=PROMPT_VERSION,
            max_tokens=EXTRAS_REPLY_TOKENS,
            response_format=RESPONSE_FORMAT,
            accept=lambda text: parse_extras(text, segments, duration) is not None,
        )
        extras = parse_extras(reply.text, segments, duration)
        if extras is not None:
            return extras
    return None
