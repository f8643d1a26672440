"""Abuse over real HTTP against ``trax serve`` processes: bodies too large to hold, floods of
multipart fields, password hashing on the event loop, per-address limits and forwarded addresses.

Attack bodies come from generators (the test never holds them) and are sent over a raw socket, so
an early answer is seen while the body is still being sent. The server's memory is sampled while
the attack runs; the attack stops as soon as the server grew past the bound, so a server that
buffers fails the test quickly instead of eating the machine.
"""

from __future__ import annotations

import itertools
import select
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import argon2.low_level
import h11
import httpx
import psutil
import pytest

from trax.config import Settings
from trax.users import passwords

from .conftest import register, serve, serve_process

MB = 1024 * 1024
RSS_BOUND = 50 * MB
BLOCK = 64 * 1024


@dataclass
class Attack:
    status: int | None  # None: the connection closed without an answer
    body: bytes
    sent: int
    growth: int  # the server's peak RSS growth while the attack ran


class _Peak:
    """Samples a process's RSS in a thread; ``over`` is set once it grew past ``RSS_BOUND``."""

    def __init__(self, proc: psutil.Process) -> None:
        self.proc, self.start = proc, proc.memory_info().rss
        self.peak, self.over, self.done = self.start, threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self.done.wait(0.005):
            self.peak = max(self.peak, self.proc.memory_info().rss)
            if self.peak - self.start > RSS_BOUND:
                self.over.set()

    def __enter__(self) -> _Peak:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.done.set()
        self.thread.join()


def attack(
    url: str,
    proc: psutil.Process,
    path: str,
    headers: dict[str, str],
    chunks: Iterable[bytes],
) -> Attack:
    """POST ``chunks`` (chunked unless ``headers`` has a Content-Length) until the server answers,
    closes, or grows past the bound; then read its answer."""
    host, port = url.removeprefix("http://").split(":")
    conn = h11.Connection(h11.CLIENT)
    framing = {} if "content-length" in headers else {"transfer-encoding": "chunked"}
    fields = {"host": host, **headers, **framing}
    request = h11.Request(method="POST", target=path, headers=list(fields.items()))
    sock = socket.create_connection((host, int(port)), timeout=30)
    sent = 0
    with sock, _Peak(proc) as peak:
        try:
            sock.sendall(conn.send(request) or b"")
            for chunk in chunks:
                answered = select.select([sock], [], [], 0)[0]
                if answered or peak.over.is_set():
                    break
                sock.sendall(conn.send(h11.Data(data=chunk)) or b"")
                sent += len(chunk)
            else:
                sock.sendall(conn.send(h11.EndOfMessage()) or b"")
        except OSError:  # the server closed the connection while we were sending
            pass
        status, body = _read_answer(sock, conn, peak)
    return Attack(status, body, sent, peak.peak - peak.start)


def _read_answer(
    sock: socket.socket, conn: h11.Connection, peak: _Peak
) -> tuple[int | None, bytes]:
    status: int | None = None
    body = bytearray()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not peak.over.is_set():
        event = conn.next_event()
        if event is h11.NEED_DATA:
            if not select.select([sock], [], [], 0.1)[0]:
                continue
            try:
                data = sock.recv(BLOCK)
            except OSError:
                data = b""
            if not data:
                break
            conn.receive_data(data)
        elif isinstance(event, h11.Response):
            status = event.status_code
        elif isinstance(event, h11.Data):
            body.extend(event.data)
        elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
            break
    return status, bytes(body)


def _assert_refused(result: Attack, code: str) -> None:
    assert result.growth < RSS_BOUND, f"the server grew by {result.growth / MB:.0f} MB"
    assert result.status == 413, result
    assert f'"code":"{code}"' in result.body.decode()


@pytest.fixture
def abuse_server(api_settings: Settings) -> Iterator[tuple[str, psutil.Process]]:
    with serve_process(api_settings) as served:
        yield served


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_huge_json_bodies_are_refused_without_reading_them(
    abuse_server: tuple[str, psutil.Process],
) -> None:
    url, proc = abuse_server
    size = 600 * MB
    json = {"content-type": "application/json"}
    declared = attack(
        url,
        proc,
        "/api/v1/auth/register",
        {**json, "content-length": str(size)},
        itertools.repeat(b" " * BLOCK, size // BLOCK),
    )
    _assert_refused(declared, "request_too_large")
    assert declared.sent < 20 * MB  # answered from the header, not after reading
    streamed = attack(  # no Content-Length: counted while it streams
        url,
        proc,
        "/api/v1/auth/register",
        json,
        itertools.chain([b'{"email": "'], itertools.repeat(b"a" * BLOCK, size // BLOCK)),
    )
    _assert_refused(streamed, "request_too_large")
    assert streamed.sent < 20 * MB
    with httpx.Client(base_url=url, timeout=30) as http:  # the server is still fine
        register(http, "ada@example.com")


def _field_flood(boundary: str, fields: int) -> Iterator[bytes]:
    for i in range(fields):
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="f{i}"\r\n\r\n'
        yield head.encode() + b"v" * (BLOCK - 200) + b"\r\n"
    yield f"--{boundary}--\r\n".encode()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_multipart_field_floods_are_refused_and_uploads_still_work(
    abuse_server: tuple[str, psutil.Process], media: Path
) -> None:
    url, proc = abuse_server
    with httpx.Client(base_url=url, timeout=30) as http:
        ada = register(http, "ada@example.com")
        boundary = "trax-flood"
        headers = {**ada.headers, "content-type": f"multipart/form-data; boundary={boundary}"}
        for path in ["/api/v1/media", "/v1/audio/transcriptions"]:
            flood = attack(url, proc, path, headers, _field_flood(boundary, 8000))
            _assert_refused(flood, "request_too_large")
            assert flood.sent < 20 * MB
        jfk = (media / "jfk.flac").read_bytes()  # over the JSON limit, under the file limit
        uploaded = http.post(
            "/api/v1/media", headers=ada.headers, files={"file": ("jfk.flac", jfk)}
        )
        assert uploaded.status_code == 201, uploaded.text


# --- password hashing and per-address limits ---------------------------------------------------


def _registrations(http: httpx.Client, forwarded_for: Iterable[str]) -> list[httpx.Response]:
    return [
        http.post(
            "/api/v1/auth/register",
            json={"email": f"user{i}@example.com", "password": "correct horse battery"},
            headers={"X-Forwarded-For": address},
        )
        for i, address in enumerate(forwarded_for)
    ]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_registrations_and_logins_are_limited_per_address_whatever_it_forwards(
    api_settings: Settings,
) -> None:
    limits = {"registration_rate_limit": "3/hour", "login_address_rate_limit": "4/minute"}
    with serve_process(api_settings, **limits) as (url, _), httpx.Client(base_url=url) as http:
        answers = _registrations(http, (f"203.0.113.{i}" for i in range(1, 5)))
        assert [a.status_code for a in answers] == [201, 201, 201, 429]
        assert int(answers[-1].headers["retry-after"]) > 0
        assert answers[-1].json()["error"]["code"] == "rate_limited"
        logins = [
            http.post(
                "/api/v1/auth/token",
                data={"username": f"nobody{i}@example.com", "password": "wrong password"},
                headers={"X-Forwarded-For": f"198.51.100.{i}"},
            ).status_code
            for i in range(5)
        ]
        assert logins == [401, 401, 401, 401, 429]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_trusted_proxy_forwards_each_client_address(api_settings: Settings) -> None:
    extra = {"registration_rate_limit": "2/hour", "trusted_proxies": "127.0.0.1"}
    with serve_process(api_settings, **extra) as (url, _), httpx.Client(base_url=url) as http:
        first = _registrations(http, ["203.0.113.7"] * 3)
        assert [a.status_code for a in first] == [201, 201, 429]
        other = http.post(
            "/api/v1/auth/register",
            json={"email": "other@example.com", "password": "correct horse battery"},
            headers={"X-Forwarded-For": "203.0.113.8"},
        )
        assert other.status_code == 201


class _HashCalls:
    """Which threads run Argon2, and how many at once: observed with a profile hook on the
    library's two entry points (nothing is replaced)."""

    def __init__(self) -> None:
        self.codes = {
            argon2.low_level.hash_secret.__code__,
            argon2.low_level.verify_secret.__code__,
        }
        self.threads: list[str] = []
        self.running = self.peak = 0
        self.lock = threading.Lock()

    def __call__(self, frame: FrameType, event: str, _arg: Any) -> None:
        if frame.f_code not in self.codes or event not in ("call", "return"):
            return
        with self.lock:
            if event == "call":
                self.threads.append(threading.current_thread().name)
                self.running += 1
                self.peak = max(self.peak, self.running)
            else:
                self.running -= 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_password_hashing_runs_off_the_event_loop_a_few_at_a_time(
    api_settings: Settings,
) -> None:
    calls = _HashCalls()
    threading.setprofile(calls)
    try:
        with serve(api_settings) as url, httpx.Client(base_url=url, timeout=60) as http:
            register(http, "ada@example.com")

            def login(i: int) -> int:
                form = {"username": f"fresh{i}@example.com", "password": "correct horse battery"}
                return http.post("/api/v1/auth/token", data=form).status_code

            with ThreadPoolExecutor(12) as pool:
                assert list(pool.map(login, range(12))) == [401] * 12
    finally:
        threading.setprofile(None)  # type: ignore[arg-type]
    assert len(calls.threads) == 14  # one registration, one login, twelve refusals
    assert {name.split(" ")[0] for name in calls.threads} == {"AnyIO"}, calls.threads
    assert calls.peak <= passwords.CONCURRENCY
