"""The enhanced stage against the scripted chat server, on a real first pass of jfk.flac: what a
user would notice (text, times, refusals, money, waiting) for each behaviour of the chat API."""

from __future__ import annotations

import time
from email.utils import formatdate
from pathlib import Path

import pytest

from trax import errors
from trax.engine.alignment import align, drift, normalise
from trax.engine.asr import Transcriber
from trax.engine.audio import probe
from trax.engine.enhance import EnhanceOptions, enhance
from trax.engine.llm import LlmConfig, LlmSession, Meter, retry_after_seconds
from trax.engine.options import TranscribeOptions
from trax.engine.result import TranscriptDocument, Word

from ..chat_server import INVENTED, Action, ChatServer

PRICE = (1.0, 2.0)  # USD per million prompt / completion tokens of the test model


@pytest.fixture(scope="module")
def jfk(transcriber: Transcriber, media: Path) -> TranscriptDocument:
    probed = probe(media / "jfk.flac", max_bytes=10**10, max_duration=10**6)
    return transcriber.transcribe(probed, TranscribeOptions(model="tiny.en"))


def session(
    chat: ChatServer,
    cache: Path | None = None,
    budget: float | None = None,
    spent: float = 0.0,
    **config: float,
) -> LlmSession:
    cfg = LlmConfig(
        base_url=chat.url,
        api_key="test-key",
        model="test-model",
        prices={"test-model": PRICE},
        cache_dir=cache,
        timeout_s=float(config.get("timeout_s", 10.0)),
        concurrency=int(config.get("concurrency", 2)),
        max_attempts=int(config.get("max_attempts", 4)),
    )
    return LlmSession(cfg, Meter(cfg, budget, spent))


def text_words(doc: TranscriptDocument) -> list[str]:
    return [normalise(w.text) for w in doc.words]


def test_a_rewrite_keeps_every_word_time_and_chunks_carry_context(
    jfk: TranscriptDocument, chat_server: ChatServer
) -> None:
    chat_server.fixes = {"fellow": "yellow"}  # a "correction" the guard lets through
    llm = session(chat_server)
    options = EnhanceOptions(chunk_words=8, overlap_words=5, extras=False)
    doc = enhance(jfk, options, llm)

    assert doc.provenance.stage == "enhanced"
    assert doc.provenance.guard is not None
    assert doc.provenance.guard.kept_original == 0
    assert doc.provenance.guard.chunks == len(chat_server.seen) >= 2
    assert doc.text != jfk.text
    assert doc.text[0].isupper()
    assert "yellow" in text_words(doc)
    # Every word keeps the time of the word it came from (the fix takes the replaced word's).
    for old, new in zip(jfk.words, doc.words, strict=True):
        assert (new.start, new.end) == (old.start, old.end)
    # Each chunk after the first is sent with the words before it, as context only (chunks go
    # out concurrently: the requests may arrive in any order).
    asked = [request.body["messages"][-1]["content"] for request in chat_server.seen]
    assert sum("for context only" not in content for content in asked) == 1
    assert chat_server.seen[0].headers["authorization"] == "Bearer test-key"


def test_an_invented_sentence_is_refused_and_the_chunk_keeps_its_words(
    jfk: TranscriptDocument, chat_server: ChatServer
) -> None:
    chat_server.script = [Action(invent=True)]
    doc = enhance(jfk, EnhanceOptions(extras=False), session(chat_server, concurrency=1))

    guard = doc.provenance.guard
    assert guard is not None
    assert (guard.chunks, guard.kept_original) == (1, 1)
    assert "president" in guard.refused[0].new_words
    assert doc.words == jfk.words
    assert "lunar" not in doc.text
    assert normalise(INVENTED.split()[1]) not in text_words(doc)


def test_retries_honour_retry_after_and_5xx_then_succeed(
    jfk: TranscriptDocument, chat_server: ChatServer
) -> None:
    chat_server.script = [Action(status=429, retry_after="1"), Action(status=503,
                          retry_after=formatdate(time.time() + 1, usegmt=True))]  # fmt: skip
    llm = session(chat_server, concurrency=1)
    doc = enhance(jfk, EnhanceOptions(extras=False), llm)

    seen = chat_server.seen
    assert len(seen) == 3
    assert seen[1].at - seen[0].at >= 0.9  # waited as told
    assert doc.provenance.guard is not None
    assert doc.provenance.guard.kept_original == 0
    assert llm.meter.calls == 1  # only the answered call is paid


def test_a_timeout_is_retried_and_persistent_failure_says_so(
    jfk: TranscriptDocument, chat_server: ChatServer
) -> None:
    chat_server.script = [Action(delay=1.5)]
    chat_server.fixes = {"fellow": "yellow"}
    doc = enhance(jfk, EnhanceOptions(extras=False), session(chat_server, timeout_s=0.5))
    assert "yellow" in text_words(doc)
    assert len(chat_server.seen) == 2

    chat_server.script = [Action(status=500, retry_after="0")] * 3
    with pytest.raises(errors.LlmError, match="failed 3 time"):
        enhance(jfk, EnhanceOptions(extras=False), session(chat_server, max_attempts=3))
    chat_server.script = [Action(status=401)]
    with pytest.raises(errors.LlmRefusedError, match="HTTP 401"):
        enhance(jfk, EnhanceOptions(extras=False), session(chat_server))


def test_extras_are_validated_and_malformed_json_is_asked_again(
    jfk: TranscriptDocument, chat_server: ChatServer
) -> None:
    chat_server.script = [Action(), Action(malformed=True)]
    doc = enhance(jfk, EnhanceOptions(), session(chat_server, concurrency=1))
    assert doc.extras is not None
    assert doc.extras.summary == "A speech."
    assert doc.extras.keywords == ("country", "speech")  # one of "country", "Country"
    assert [c.start for c in doc.extras.chapters] == [doc.segments[0].start]
    extras_calls = [s for s in chat_server.seen if s.is_extras]
    assert len(extras_calls) == 2
    assert extras_calls[0].body["response_format"]["type"] == "json_schema"

    chat_server.script = [Action(), Action(malformed=True), Action(malformed=True)]
    chat_server.fixes = {"fellow": "yellow"}
    doc = enhance(jfk, EnhanceOptions(), session(chat_server, concurrency=1))
    assert doc.extras is None  # given up on; the text is still enhanced
    assert "yellow" in text_words(doc)


def test_usage_becomes_cost_and_the_cache_makes_a_second_run_free(
    jfk: TranscriptDocument, chat_server: ChatServer, tmp_path: Path
) -> None:
    first = session(chat_server, cache=tmp_path)
    options = EnhanceOptions(chunk_words=10)
    doc = enhance(jfk, options, first)
    calls = len(chat_server.seen)
    assert first.meter.calls == calls >= 3
    assert first.meter.usage.prompt_tokens == 1000 * calls
    assert first.meter.spent_usd == pytest.approx(calls * (1000 * 1.0 + 500 * 2.0) / 1e6)

    again = session(chat_server, cache=tmp_path)
    assert enhance(jfk, options, again) == doc
    assert len(chat_server.seen) == calls  # nothing sent
    assert (again.meter.spent_usd, again.meter.cached) == (0.0, calls)


def test_the_budget_stops_the_stage_before_it_is_exceeded(
    jfk: TranscriptDocument, chat_server: ChatServer
) -> None:
    chat_server.prompt_tokens, chat_server.completion_tokens = 100, 20
    budget = 0.0009  # $0.0004 left; a call may cost up to ~$0.0003 and costs $0.00014
    llm = session(chat_server, budget=budget, spent=0.0005, concurrency=1)
    with pytest.raises(errors.BudgetExceededError, match="TRAX_LLM_MAX_COST_USD"):
        enhance(jfk, EnhanceOptions(chunk_words=6, extras=False), llm)
    assert len(chat_server.seen) == 1
    assert 0.0005 + llm.meter.spent_usd <= budget


def test_alignment_merges_splits_and_inserts_take_interpolated_times() -> None:
    source = [Word(start=float(i), end=i + 0.5, text=f" {t}", probability=0.9)
              for i, t in enumerate(["we", "can", "not", "go", "to", "new", "york"])]  # fmt: skip
    rewrite = ["We", "cannot", "go", "to", "New", "York,", "sadly."]
    out = align(source, rewrite, 0.0, 8.0)
    times = [(a.word.text.strip(), a.word.start, a.word.end) for a in out]
    assert times[0] == ("We", 0.0, 0.5)
    assert times[1] == ("cannot", 1.0, 2.5)  # the span of the two words it merges
    assert times[-1][0] == "sadly."
    assert times[-1][1] >= 6.5
    assert [a.word.start for a in out] == sorted(a.word.start for a in out)
    assert drift(["we", "can", "not"], ["We", "cannot."], frozenset()).new_words == ()
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert retry_after_seconds("soon") is None
