"""A process's event loop for synchronous callers (Dramatiq actor threads).

Each worker process gets one event-loop thread (an anyio blocking portal) holding one
:class:`~trax.runtime.Runtime` (database engine and storage). Actor threads hand their async work
to it. It is created on first use, after any fork, and closed when the process shuts down.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from typing import ClassVar, TypeVar

from anyio.from_thread import start_blocking_portal

from trax.config import Settings
from trax.runtime import Runtime, open_runtime

T = TypeVar("T")


class Executor:
    def __init__(self, settings: Settings) -> None:
        self._stack = ExitStack()
        self._portal = self._stack.enter_context(start_blocking_portal())
        self.runtime: Runtime = self._stack.enter_context(
            self._portal.wrap_async_context_manager(open_runtime(settings))
        )

    def call(self, fn: Callable[..., Awaitable[T]], *args: object) -> T:
        """Run ``fn(runtime, *args)`` on the loop and wait for its result."""
        return self._portal.call(fn, self.runtime, *args)

    def close(self) -> None:
        self._stack.close()


class _Executors:
    """This process's executors, one per settings (one in production; tests use several)."""

    lock = threading.Lock()
    live: ClassVar[dict[Settings, Executor]] = {}


def executor_for(settings: Settings) -> Executor:
    """The process's executor for ``settings`` (created on first use)."""
    with _Executors.lock:
        if settings not in _Executors.live:
            _Executors.live[settings] = Executor(settings)
        return _Executors.live[settings]


def shutdown() -> None:
    """Close every executor of this process (end of a CLI command, worker shutdown)."""
    with _Executors.lock:
        executors = list(_Executors.live.values())
        _Executors.live.clear()
    for executor in executors:
        executor.close()
