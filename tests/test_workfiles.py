"""Working files a killed process left (partial uploads, downloads, scratch copies) are swept;
a live process's files and stored media never are."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from trax.actors import build_queue
from trax.config import LEFTOVERS_TOO_SOON, Settings
from trax.jobs.recovery import sweep
from trax.queue import Sweeper
from trax.runtime import open_runtime
from trax.storage import LocalStorage
from trax.workfiles import owner_prefix

from .api.conftest import register, serve
from .served import serve_env, trax_serve

DAY = 24 * 3600.0
ON_SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def put(path: Path, data: bytes = b"partial bytes", age: float = 0.0) -> Path:
    """Write ``path`` (and its folder), last changed ``age`` seconds ago."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    when = time.time() - age
    for p in (path, path.parent):
        os.utime(p, (when, when))
    return path


def dead_pid() -> int:
    """The pid of a process of this host that has exited."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    return int(proc.stdout)


@pytest.mark.anyio
@ON_SQLITE
async def test_start_up_removes_stale_leftovers_and_keeps_fresh_files_and_media(
    settings: Settings, media: Path
) -> None:
    data = settings.data_dir
    stored = LocalStorage(data).put_file(media / "jfk.flac", ".flac")
    stored_path = put(data / stored.key, (media / "jfk.flac").read_bytes(), age=30 * DAY)
    stale = [
        put(data / "uploads" / "3f2a" / "partial.wav", age=2 * DAY).parent,
        put(data / "downloads" / "9c1e" / "talk.mp3", age=2 * DAY).parent,
        put(data / "scratch" / "tmpk2j4.flac", age=2 * DAY),
        put(data / "incoming" / "tmpz81q", age=2 * DAY),
    ]
    fresh = [
        put(data / "uploads" / f"{owner_prefix()}77aa" / "partial.wav").parent,
        put(data / "downloads" / "51bd" / "talk.mp3", age=60).parent,
        put(data / "scratch" / "tmp0bb1.flac", age=3600),
    ]
    # An upload still streaming into a folder made long ago: its file is fresh.
    streaming = put(data / "uploads" / "e4c0" / "long.wav", age=2 * DAY).parent
    put(streaming / "long.wav")

    async with open_runtime(settings, migrate=True):
        pass

    assert [p for p in stale if p.exists()] == []
    assert all(p.exists() for p in [*fresh, streaming])
    assert stored_path.read_bytes() == (media / "jfk.flac").read_bytes()


@pytest.mark.anyio
@ON_SQLITE
async def test_files_of_a_dead_process_of_this_host_go_at_once(settings: Settings) -> None:
    host, data = socket.gethostname(), settings.data_dir
    orphan = put(data / "uploads" / f"{dead_pid()}@{host}~a1" / "partial.wav").parent
    orphan_scratch = put(data / "scratch" / f"{dead_pid()}@{host}~tmpq.flac")
    mine = put(data / "uploads" / f"{os.getpid()}@{host}~b2" / "partial.wav").parent
    elsewhere = put(data / "downloads" / f"{dead_pid()}@another-host~c3" / "talk.mp3").parent

    async with open_runtime(settings, migrate=True):
        pass

    assert not orphan.exists()
    assert not orphan_scratch.exists()
    assert mine.exists()
    assert elsewhere.exists()  # its owner may be alive on the other host


@ON_SQLITE
def test_the_server_keeps_sweeping_while_it_runs(settings: Settings) -> None:
    with serve(settings.model_copy(update={"sweep_interval_seconds": 0.1})):
        left = put(settings.data_dir / "downloads" / "5e5e" / "talk.mp3", age=2 * DAY).parent
        kept = put(settings.data_dir / "downloads" / "6f6f" / "talk.mp3").parent
        _wait_for(lambda: not left.exists(), "swept")
        assert kept.exists()


def test_worker_processes_keep_sweeping(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", sweep_interval_seconds=0.1)
    sweeper = Sweeper(settings, sweep)
    queue = build_queue(settings, extra=[sweeper])
    worker = queue.worker(threads=1)  # not started: only its middleware hooks run
    left = put(settings.data_dir / "scratch" / "tmp9d.flac", age=2 * DAY)
    kept = put(settings.data_dir / "scratch" / "tmp0e.flac")
    sweeper.after_worker_boot(queue.broker, worker)
    try:
        _wait_for(lambda: not left.exists(), "swept")
        assert kept.exists()
    finally:
        sweeper.before_worker_shutdown(queue.broker, worker)


def test_leftovers_must_outlive_the_longest_job(tmp_path: Path) -> None:
    default = Settings(data_dir=tmp_path, job_time_limit_seconds=7200)
    assert default.leftover_age_seconds == 7200 + 3600
    with pytest.raises(ValidationError, match="TRAX_LEFTOVER_SECONDS"):
        Settings(data_dir=tmp_path, job_time_limit_seconds=7200, leftover_seconds=3600)
    assert "TRAX_JOB_TIME_LIMIT_SECONDS" in LEFTOVERS_TOO_SOON


def _start_upload(url: str, token: str, boundary: str = "b0undary") -> socket.socket:
    """Send the head of a 1 MB upload and a first part of its body, then stop sending."""
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="talk.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode()
    port = int(url.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(
        (
            "POST /api/v1/media HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {token}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {len(head) + 1_000_000}\r\n\r\n"
        ).encode()
        + head
        + b"\0" * 200_000
    )
    return sock


def _partials(data: Path) -> list[Path]:
    return [p for p in (data / "uploads").rglob("*") if p.is_file()]


def _wait_for(check: object, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"not {what} after {timeout} s")
        time.sleep(0.05)


def test_a_killed_upload_leaves_nothing(tmp_path: Path, model_cache: Path) -> None:
    """A client that goes away mid-body leaves nothing; a server killed mid-body leaves a
    partial file that its next start removes."""
    data = tmp_path / "data"
    env = serve_env(data, model_cache)
    log = tmp_path / "serve.log"
    with trax_serve(env, log) as first, httpx.Client(base_url=first.url, timeout=30) as http:
        token = register(http, "ada@example.com").token
        client_gone = _start_upload(first.url, token)
        _wait_for(lambda: any(p.stat().st_size for p in _partials(data)), "receiving")
        client_gone.close()
        _wait_for(lambda: not _partials(data), "removed when the client left")

        killed = _start_upload(first.url, token)
        _wait_for(lambda: any(p.stat().st_size for p in _partials(data)), "receiving")
        first.process.kill()
        first.process.wait()
        killed.close()
    (partial,) = _partials(data)

    with trax_serve(env, log):
        assert not partial.exists()
        assert list((data / "uploads").iterdir()) == []
