"""``/api/v1/ws`` under many sockets: a per-user cap, and one shared change feed per process
whatever the number of sockets."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import event
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from trax.api import create_app
from trax.config import Settings
from trax.notifications.feed import POLL_SECONDS

from .conftest import Account, register, serve
from .test_resources import Listener, upload

#: The feed's query: the jobs changed since its last look.
FEED_QUERY = "jobs.updated_at >="


def ws_url(server: str, who: Account) -> str:
    return server.replace("http://", "ws://") + f"/api/v1/ws?token={who.token}"


def is_open(ws: ClientConnection) -> bool:
    """Accepted and kept open: nothing arrives, and the socket is not closed."""
    try:
        ws.recv(timeout=0.3)
    except TimeoutError:
        return True
    except ConnectionClosed:
        return False
    raise AssertionError("no message was expected")


@contextmanager
def sockets(server: str, who: Account, count: int) -> Iterator[list[ClientConnection]]:
    with ExitStack() as stack:
        yield [stack.enter_context(connect(ws_url(server, who))) for _ in range(count)]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_user_may_open_only_so_many_sockets(api_settings: Settings) -> None:
    settings = api_settings.model_copy(update={"ws_max_connections_per_user": 3})
    with serve(settings) as server, httpx.Client(base_url=server, timeout=10) as http:
        ada, grace = register(http, "ada@example.com"), register(http, "grace@example.com")
        with sockets(server, ada, 3) as open_ones:
            assert all(is_open(ws) for ws in open_ones)
            with connect(ws_url(server, ada)) as extra, pytest.raises(ConnectionClosed) as closed:
                extra.recv(timeout=10)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1008
            assert "at most 3" in closed.value.rcvd.reason
            with connect(ws_url(server, grace)) as other:
                assert is_open(other)  # the cap is per user
            open_ones[0].close()
            deadline = time.monotonic() + 10
            while True:  # the server frees the place once it sees the close
                with connect(ws_url(server, ada)) as again:
                    if is_open(again):
                        break
                assert time.monotonic() < deadline, "the closed socket's place was not freed"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_many_sockets_share_one_feed(api_settings: Settings, media: Path) -> None:
    """50 sockets of one user all follow the job, while the database sees the polls of one
    feed, not one per socket."""
    settings = api_settings.model_copy(update={"ws_max_connections_per_user": 50})
    app = create_app(settings)
    polls = 0
    lock = threading.Lock()

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        nonlocal polls
        if FEED_QUERY in statement:
            with lock:
                polls += 1

    with serve(settings, app) as server, httpx.Client(base_url=server, timeout=60) as http:
        event.listen(app.state.runtime.db.engine.sync_engine, "before_cursor_execute", count)
        ada = register(http, "ada@example.com")
        stored = upload(http, ada, media / "jfk.flac")
        assert stored.status_code == 201, stored.text
        listeners = [Listener(server, ada.token) for _ in range(50)]
        with lock:
            polls, started = 0, time.monotonic()
        created = http.post(
            "/api/v1/transcriptions", headers=ada.headers, json={"media_id": stored.json()["id"]}
        )
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]
        heard = [listener.finish() for listener in listeners]
        with lock:
            seconds, seen = time.monotonic() - started, polls
    for messages in heard:
        assert messages, "a socket heard nothing"
        assert (messages[-1]["type"], messages[-1]["job"]["id"]) == ("job.succeeded", job_id)
        assert [m["type"] for m in messages] == [m["type"] for m in heard[0]]
    one_feed = seconds / POLL_SECONDS
    assert seen <= 2 * one_feed + 5, f"{seen} polls in {seconds:.1f} s"
