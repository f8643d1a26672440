"""Argon2id password hashing in worker threads, a few at a time.

One hash costs tens of milliseconds of CPU and 64 MiB of memory. On the event loop it would stall
every other request for that long (twelve concurrent logins raised another user's ``/users/me``
from 8 ms to 0.9 s), so it runs in a worker thread; and at most one hash per two cores runs at once,
so a burst of logins queues here instead of taking every core and a gigabyte of memory.
"""

from __future__ import annotations

import os

import anyio.to_thread
from anyio import CapacityLimiter
from anyio.lowlevel import RunVar
from pwdlib import PasswordHash

_CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
#: Hashes computed at once: one per two usable cores. An Argon2id hash (parallelism 4) keeps more
#: than one core busy; with one hash per core the event loop was starved of CPU (another user's
#: /users/me p50 230 ms under twelve login connections; 9 ms with one per two cores).
CONCURRENCY = max(1, _CORES // 2)
_hasher = PasswordHash.recommended()  # Argon2id
#: One limiter per event loop (a limiter cannot be shared between loops).
_slots: RunVar[CapacityLimiter] = RunVar("trax_password_slots")


def _limiter() -> CapacityLimiter:
    try:
        return _slots.get()
    except LookupError:
        limiter = CapacityLimiter(CONCURRENCY)
        _slots.set(limiter)
        return limiter


async def hash_password(password: str) -> str:
    """The Argon2id hash of ``password``."""
    return await anyio.to_thread.run_sync(_hasher.hash, password, limiter=_limiter())


async def verify_password(password: str, hashed: str) -> tuple[bool, str | None]:
    """Whether ``password`` matches ``hashed``, and a new hash when the parameters changed."""
    return await anyio.to_thread.run_sync(
        _hasher.verify_and_update, password, hashed, limiter=_limiter()
    )
