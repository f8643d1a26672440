"""A live Trax server (uvicorn on a loopback port, real database, in-process workers) and
clients for it: accounts are created over the API, the way users do it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import psutil
import pytest
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr

from trax.api import create_app
from trax.config import Settings
from trax.runtime import open_runtime

from ..conftest import free_port


def words_of(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


async def migrate(settings: Settings) -> None:
    async with open_runtime(settings, migrate=True):
        pass


@contextmanager
def serve(settings: Settings, app: FastAPI | None = None) -> Iterator[str]:
    """Run ``app`` (default: a new one for ``settings``) on a free loopback port; yields its
    base URL."""
    anyio.run(migrate, settings)
    port = free_port()
    app = app or create_app(settings)
    config = uvicorn.Config(  # as `trax serve` runs it
        app, host="127.0.0.1", port=port, log_level="warning", proxy_headers=False
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    """Small limits so that limit tests stay fast: uploads up to 1.5 MB."""
    return settings.model_copy(update={"max_file_bytes": 1_500_000, "default_model": "tiny.en"})


@pytest.fixture
def server(api_settings: Settings) -> Iterator[str]:
    with serve(api_settings) as url:
        yield url


@dataclass
class Account:
    email: str
    password: str
    token: str
    id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def register(http: httpx.Client, email: str, password: str = "correct horse battery") -> Account:
    """Register and log in over the API."""
    created = http.post("/api/v1/auth/register", json={"email": email, "password": password})
    assert created.status_code == 201, created.text
    login = http.post("/api/v1/auth/token", data={"username": email, "password": password})
    assert login.status_code == 200, login.text
    return Account(email, password, login.json()["access_token"], created.json()["id"])


def wait_for_job(http: httpx.Client, account: Account, job_id: str, timeout: float = 120) -> Any:
    """Poll the job until it finishes; returns its last state."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = http.get(f"/api/v1/jobs/{job_id}", headers=account.headers).json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job
        time.sleep(0.2)
    pytest.fail(f"job {job_id} did not finish in {timeout} s")


def settings_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment giving a ``trax`` process these settings (plus ``TRAX_<NAME>`` extras)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAX_")}
    for name, value in settings.model_dump().items():
        if value is not None:
            plain = value.get_secret_value() if isinstance(value, SecretStr) else value
            env[f"TRAX_{name.upper()}"] = str(plain)
    env.update({f"TRAX_{name.upper()}": value for name, value in extra.items()})
    return env


@contextmanager
def serve_process(settings: Settings, **extra: str) -> Iterator[tuple[str, psutil.Process]]:
    """``trax serve`` in its own process, as operators run it (its memory is not ours); yields
    its base URL and the process. ``extra`` sets more settings, e.g. ``trusted_proxies="…"``."""
    anyio.run(migrate, settings)
    port = free_port()
    cmd = [sys.executable, "-c", "from trax.cli import main; main()", "serve", "--port", str(port)]
    proc = subprocess.Popen(
        cmd,
        env=settings_env(settings, **extra),
        cwd=settings.data_dir.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"trax serve did not start (exit code {proc.returncode})")
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code < 500:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield url, psutil.Process(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
