"""Counting attempts in a moving window with the ``limits`` library: in Redis when a broker URL
is set, so every API host shares the count; in process otherwise."""

from __future__ import annotations

from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from trax import errors
from trax.config import Settings
from trax.db import utcnow


class RateLimiter:
    """``limit`` (limits syntax, e.g. ``10/minute``) per key within ``scope``."""

    def __init__(self, settings: Settings, limit: str, scope: str, message: str) -> None:
        self._item: RateLimitItem = parse(limit)
        self._limiter = MovingWindowRateLimiter(
            storage_from_string(settings.broker_url or "memory://")
        )
        self._prefix = (settings.queue_namespace, scope)
        self._message = message

    def hit(self, *key: str) -> None:
        """Count one attempt; :class:`~trax.errors.RateLimitedError` (429 with Retry-After) when
        it is over the limit. ``message`` is formatted with ``seconds``. Blocking with Redis:
        call it from a thread."""
        full = (*self._prefix, *key)
        if not self._limiter.hit(self._item, *full):
            reset = self._limiter.get_window_stats(self._item, *full).reset_time
            seconds = max(1, int(reset - utcnow().timestamp()) + 1)
            raise errors.RateLimitedError(self._message.format(seconds=seconds), seconds)
