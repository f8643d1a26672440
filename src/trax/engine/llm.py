"""A chat client for any OpenAI-compatible API, with retries, a result cache and a meter.

Plain library code: it knows a base URL, a key and a model, nothing of settings or the database.
Calls are blocking (the enhanced stage runs in a worker thread and makes its calls from a small
thread pool). Every call goes through :class:`Meter`, which turns the API's ``usage`` into money
with a per-model price table and refuses a call that could take the run over its budget *before*
it is sent: the estimate is the prompt's size plus the ``max_tokens`` asked for, so the real cost
never exceeds it when the server honours ``max_tokens``.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import tenacity

from trax import errors

#: USD per million (prompt, completion) tokens. DeepSeek's list prices for deepseek-chat and
#: deepseek-reasoner (V3.2, cache-miss input) as published from 2025-09-29; OpenAI's as
#: published in 2025. Local servers cost nothing. ``TRAX_LLM_PRICES`` adds and overrides.
PRICES: dict[str, tuple[float, float]] = {
    "deepseek-chat": (0.28, 0.42),
    "deepseek-reasoner": (0.28, 0.42),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
}
PRICES_AS_OF = "2025-09-29"
#: A token is about four characters of English; estimates use three, to err on the high side.
CHARS_PER_TOKEN_ESTIMATE = 3
#: Never wait longer than this for one ``Retry-After`` (seconds).
MAX_RETRY_AFTER_S = 60.0
#: Backoff without ``Retry-After``: exponential from this, with jitter, up to the cap.
BACKOFF_INITIAL_S, BACKOFF_MAX_S, BACKOFF_JITTER_S = 1.0, 30.0, 1.0
OVER_BUDGET = (
    "stopped before going over the LLM budget of ${budget:.4f} per transcript "
    "(TRAX_LLM_MAX_COST_USD): ${spent:.4f} spent, the next call could cost ${next:.4f}"
)
REFUSED = "the chat API at {url} refused the request: HTTP {status}: {detail}"
UNAVAILABLE = "the chat API at {url} failed {attempts} time(s); last: {detail}"
STOPPED = "stopped"


@dataclass(frozen=True)
class Usage:
    """Tokens one or more calls took."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
        )


def price_of(prices: Mapping[str, tuple[float, float]], model: str, usage: Usage) -> float:
    """What ``usage`` of ``model`` costs in USD (0 for a model without a price: local)."""
    prompt, completion = prices.get(model, (0.0, 0.0))
    return (usage.prompt_tokens * prompt + usage.completion_tokens * completion) / 1_000_000


@dataclass(frozen=True)
class LlmConfig:
    """Where and how to call: an OpenAI-compatible ``base_url`` (ending in ``/v1``)."""

    base_url: str
    api_key: str
    model: str
    timeout_s: float = 120.0
    concurrency: int = 4
    max_attempts: int = 5
    prices: Mapping[str, tuple[float, float]] = field(default_factory=lambda: dict(PRICES))
    #: Where replies are kept, keyed by model, prompt version and messages (None: no cache).
    cache_dir: Path | None = None


class Meter:
    """Tokens and money spent by one run, and its budget (thread-safe)."""

    def __init__(self, config: LlmConfig, budget_usd: float | None, spent_before: float = 0.0):
        self._config, self._budget, self._before = config, budget_usd, spent_before
        self._lock = threading.Lock()
        self.usage = Usage()
        self.reserved_usd = 0.0
        self.calls = 0
        self.cached = 0

    @property
    def spent_usd(self) -> float:
        """Money spent by this run."""
        return price_of(self._config.prices, self._config.model, self.usage)

    def reserve(self, estimate: Usage) -> float:
        """Hold the most a call can cost, or refuse it if that could go over the budget."""
        cost = price_of(self._config.prices, self._config.model, estimate)
        with self._lock:
            committed = self._before + self.spent_usd + self.reserved_usd
            if self._budget is not None and committed + cost > self._budget:
                raise errors.BudgetExceededError(
                    OVER_BUDGET.format(budget=self._budget, spent=committed, next=cost)
                )
            self.reserved_usd += cost
        return cost

    def settle(self, reserved: float, usage: Usage | None) -> None:
        """Replace a reservation by what the call took (None: the call failed, spent nothing
        we were told of)."""
        with self._lock:
            self.reserved_usd = max(0.0, self.reserved_usd - reserved)
            if usage is not None:
                self.usage = self.usage + usage
                self.calls += 1

    def hit(self) -> None:
        with self._lock:
            self.cached += 1


@dataclass(frozen=True)
class LlmSession:
    """What a stage run calls with: the configuration and the meter it spends on."""

    config: LlmConfig
    meter: Meter


@dataclass(frozen=True)
class Reply:
    text: str
    usage: Usage
    cached: bool


class _Retryable(Exception):
    def __init__(self, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class Stopped(Exception):
    """The run was stopped (cancelled, lease lost) while a call waited to retry."""


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds to wait: delta-seconds or an HTTP date; None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = datetime.now(UTC).timestamp() if now is None else now
    return max(0.0, when.timestamp() - current)


_backoff = tenacity.wait_exponential_jitter(
    initial=BACKOFF_INITIAL_S, max=BACKOFF_MAX_S, jitter=BACKOFF_JITTER_S
)


def _wait(state: tenacity.RetryCallState) -> float:
    """The server's ``Retry-After`` when it gave one (capped), else exponential with jitter."""
    exc = state.outcome.exception() if state.outcome is not None else None
    if isinstance(exc, _Retryable) and exc.retry_after is not None:
        return min(exc.retry_after, MAX_RETRY_AFTER_S)
    return float(_backoff(state))


class ChatClient:
    """Calls ``POST {base_url}/chat/completions``; one per stage run."""

    def __init__(self, session: LlmSession, stop: threading.Event | None = None) -> None:
        self.config, self.meter = session.config, session.meter
        self._stop = stop or threading.Event()
        self._http = httpx.Client(
            base_url=self.config.base_url.rstrip("/"),
            headers={"authorization": f"Bearer {self.config.api_key}"},
            timeout=self.config.timeout_s,
        )

    def close(self) -> None:
        self._http.close()

    def complete(
        self,
        messages: Sequence[Mapping[str, str]],
        *,
        prompt_version: str,
        max_tokens: int,
        response_format: Mapping[str, Any] | None = None,
        accept: Callable[[str], bool] = lambda _text: True,
    ) -> Reply:
        """One chat completion: from the cache when the same model, prompt version and
        messages were answered before (and ``accept`` took the answer), else from the API."""
        body: dict[str, Any] = {
            "model": self.config.model,
            "messages": [dict(m) for m in messages],
            "temperature": 0,
            "max_tokens": max_tokens,
        }
        if response_format is not None:
            body["response_format"] = dict(response_format)
        key = _cache_key(self.config.model, prompt_version, body)
        cached = self._read_cache(key)
        if cached is not None:
            self.meter.hit()
            return cached
        chars = sum(len(m["content"]) for m in messages)
        estimate = Usage(chars // CHARS_PER_TOKEN_ESTIMATE + 16, max_tokens)
        reserved = self.meter.reserve(estimate)
        usage: Usage | None = None
        try:
            data = self._post(body)
            text = _content(data)
            usage = _usage(data, estimate)
        finally:
            self.meter.settle(reserved, usage)
        reply = Reply(text, usage, cached=False)
        if accept(text):
            self._write_cache(key, reply)
        return reply

    def _post(self, body: Mapping[str, Any]) -> dict[str, Any]:
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.config.max_attempts),
            wait=_wait,
            retry=tenacity.retry_if_exception_type(
                (_Retryable, httpx.TimeoutException, httpx.TransportError)
            ),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            return retrying(self._post_once, body)
        except (_Retryable, httpx.TimeoutException, httpx.TransportError) as exc:
            detail = str(exc) or type(exc).__name__
            raise errors.LlmError(
                UNAVAILABLE.format(
                    url=self.config.base_url, attempts=self.config.max_attempts, detail=detail
                )
            ) from exc

    def _post_once(self, body: Mapping[str, Any]) -> dict[str, Any]:
        if self._stop.is_set():
            raise Stopped(STOPPED)
        response = self._http.post("/chat/completions", json=body)
        status = response.status_code
        if status == 429 or status >= 500:
            wait = retry_after_seconds(response.headers.get("retry-after"))
            raise _Retryable(f"HTTP {status}", wait)
        if status >= 400:
            raise errors.LlmRefusedError(
                REFUSED.format(url=self.config.base_url, status=status, detail=response.text[:300])
            )
        try:
            data = response.json()
        except ValueError as exc:
            raise _Retryable(f"HTTP {status} with a body that is not JSON") from exc
        if not isinstance(data, dict) or not data.get("choices"):
            raise _Retryable(f"HTTP {status} without choices")
        return data

    def _sleep(self, seconds: float) -> None:
        if self._stop.wait(seconds):
            raise Stopped(STOPPED)

    def _path(self, key: str) -> Path | None:
        if self.config.cache_dir is None:
            return None
        return self.config.cache_dir / key[:2] / f"{key}.json"

    def _read_cache(self, key: str) -> Reply | None:
        path = self._path(key)
        if path is None or not path.is_file():
            return None
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
            usage = Usage(int(stored["prompt_tokens"]), int(stored["completion_tokens"]))
            return Reply(str(stored["text"]), usage, cached=True)
        except (OSError, ValueError, KeyError, TypeError):
            return None  # a damaged entry is a miss: it is written again

    def _write_cache(self, key: str, reply: Reply) -> None:
        path = self._path(key)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        payload = {
            "text": reply.text,
            "prompt_tokens": reply.usage.prompt_tokens,
            "completion_tokens": reply.usage.completion_tokens,
            "at": time.time(),
        }
        tmp.write_text(json.dumps(payload), encoding="utf-8")
        os.replace(tmp, path)


def _cache_key(model: str, prompt_version: str, body: Mapping[str, Any]) -> str:
    canonical = json.dumps(
        [model, prompt_version, body["messages"], body.get("response_format")],
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _content(data: Mapping[str, Any]) -> str:
    try:
        content = data["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError) as exc:
        raise errors.LlmError(f"the chat API answered without a message: {exc!r}") from exc
    return str(content or "")


def _usage(data: Mapping[str, Any], estimate: Usage) -> Usage:
    """The API's ``usage``; the estimate when a server leaves it out."""
    usage = data.get("usage")
    if not isinstance(usage, dict):
        return estimate
    try:
        return Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))
    except (TypeError, ValueError):
        return estimate
