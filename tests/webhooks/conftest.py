"""A real webhook receiver on 127.0.0.1 and settings that let deliveries reach it quickly."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from trax.config import Settings
from trax.runtime import Runtime
from trax.users import service as users

from ..conftest import free_port, serving


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver(ThreadingHTTPServer):
    """Records every request; answers with the next scripted status (then 200)."""

    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", free_port()), _Handler)
        self.received: list[Received] = []
        self.script: list[int] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks"

    def next_status(self, request: Received) -> int:
        with self.lock:
            self.received.append(request)
            return self.script.pop(0) if self.script else 200


class _Handler(BaseHTTPRequestHandler):
    server: Receiver
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        request = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        status = self.server.next_status(request)
        answer = b"thanks" if status < 300 else b"not now"
        self.send_response(status)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:
        pass


class Dripper(ThreadingHTTPServer):
    """A receiver that never finishes answering: it accepts the POST, promises a body, then
    sends it one byte every ``DRIP_SECONDS`` until stopped. Counts the requests it took."""

    daemon_threads = True
    block_on_close = False
    DRIP_SECONDS = 0.3

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", free_port()), _DripHandler)
        self.requests = 0
        self.stop = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/slow"


class _DripHandler(BaseHTTPRequestHandler):
    server: Dripper
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.requests += 1
        self.send_response(200)
        self.send_header("Content-Length", "100000")
        self.end_headers()
        try:
            while not self.server.stop.wait(self.server.DRIP_SECONDS):
                self.wfile.write(b".")
                self.wfile.flush()
        except OSError:  # the client gave up, as it should
            pass
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def dripper() -> Iterator[Dripper]:
    with serving(Dripper()) as srv:
        try:
            yield srv
        finally:
            srv.stop.set()  # release the handlers before shutting down


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serving(Receiver()) as srv:
        yield srv


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Loopback targets allowed (the receiver is on 127.0.0.1), three attempts, tiny backoffs."""
    return settings.model_copy(
        update={
            "outbound_allow_loopback": True,
            "outbound_timeout_seconds": 5.0,
            "webhook_max_attempts": 3,
            "webhook_min_backoff_seconds": 0.05,
            "webhook_max_backoff_seconds": 0.2,
            "worker_threads": 2,
            "webhook_worker_threads": 1,
            "webhook_deadline_seconds": 120.0,
        }
    )


async def make_user(rt: Runtime, email: str = "ada@example.com") -> str:
    async with rt.db.session() as s:
        return (await users.create_user(s, email)).id
