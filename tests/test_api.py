"""The HTTP service over real HTTP: a uvicorn server on a loopback port, a real database."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import anyio
import httpx
import pytest
import uvicorn

from trax.api import create_app
from trax.config import Settings
from trax.runtime import open_runtime

from .conftest import free_port


async def migrate(settings: Settings) -> None:
    async with open_runtime(settings, migrate=True):
        pass


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    """A live server on a migrated throwaway database; yields its base URL."""
    anyio.run(migrate, settings)
    port = free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline:
            pytest.fail("server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=20)


def test_health_ready_and_system_endpoints(server: str) -> None:
    with httpx.Client(base_url=server, timeout=10) as http:
        assert http.get("/health").json() == {"status": "ok"}
        assert http.get("/ready").json() == {"status": "ok", "database": True, "broker": True}
        assert http.get("/api/v1/system/version").json()["name"] == "trax"
        names = [m["name"] for m in http.get("/api/v1/system/models").json()]
        assert names[:2] == ["tiny.en", "base"]
        assert "/api/v1/system/models" in http.get("/openapi.json").json()["paths"]
        assert http.get("/docs").status_code == 200


def test_errors_have_one_json_shape(server: str) -> None:
    with httpx.Client(base_url=server, timeout=10) as http:
        missing = http.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json() == {
        "error": {"code": "not_found", "message": "Not Found", "details": None}
    }
