"""Shared fixtures: real media, real SQLite and PostgreSQL databases, one model cache per session.

PostgreSQL tests use the server on 127.0.0.1:5432 with a throwaway database per test. When that
server is not reachable they are skipped locally, and fail under CI (``CI=true``).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import socketserver
import subprocess
import sys
import threading
import time
import uuid
import wave
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import pytest
import sqlalchemy as sa

# No test may reach the model hub (or any non-loopback address).
os.environ["HF_HUB_OFFLINE"] = "1"

from trax.actors import job_runtime
from trax.config import Settings, get_settings
from trax.engine.asr import EngineConfig, Transcriber
from trax.engine.models import LoadOptions
from trax.queue import Queue
from trax.runtime import Runtime, open_runtime
from trax.storage import s3_client

from .chat_server import chat_server  # noqa: F401 (a fixture: the scripted chat API)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PROJECT = Path(__file__).resolve().parents[1]
SHARED_MEDIA = PROJECT.parent / "shared" / "media"
JFK_TEXT = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)
PG_ADMIN_URL = os.environ.get("TRAX_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def media() -> Path:
    """The directory of real recordings (read only)."""
    assert SHARED_MEDIA.is_dir(), f"missing {SHARED_MEDIA}"
    return SHARED_MEDIA


@pytest.fixture(scope="session")
def jfk_text() -> str:
    """What jfk.flac says (shared/media/README.md)."""
    return JFK_TEXT


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One model cache for the session: ``base`` is assembled at most once."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def transcriber(model_cache: Path) -> Transcriber:
    """A transcriber sharing the process-wide model cache: each model loads once."""
    return Transcriber(EngineConfig(model_cache_dir=model_cache, load=LoadOptions(cpu_threads=2)))


def ffmpeg(*args: str) -> None:
    import imageio_ffmpeg

    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args]
    subprocess.run(cmd, check=True, timeout=120)


@pytest.fixture(scope="session")
def derived(tmp_path_factory: pytest.TempPathFactory, media: Path) -> dict[str, Path]:
    """Media made from the shared recordings: video containers, damaged and synthetic files."""
    out = tmp_path_factory.mktemp("derived")
    jfk = media / "jfk.flac"
    files = {
        "video": out / "jfk.mp4",
        "mute_video": out / "mute.mp4",
        "truncated": out / "truncated.flac",
        "garbage": out / "garbage.mp3",
        "empty": out / "empty.wav",
        "text": out / "notes.txt",
        "silence": out / "silence.wav",
        "noise": out / "noise.wav",
        "tone": out / "tone.wav",
        "long": out / "long.mp3",
        "reversed": out / "reversed.wav",
    }
    ffmpeg("-f", "lavfi", "-i", "color=c=black:s=64x64:d=11", "-i", str(jfk), "-shortest",
           "-c:v", "libx264", "-c:a", "aac", str(files["video"]))  # fmt: skip
    ffmpeg("-f", "lavfi", "-i", "color=c=black:s=64x64:d=3", "-c:v", "libx264",
           str(files["mute_video"]))  # fmt: skip
    files["truncated"].write_bytes(jfk.read_bytes()[:300_000])
    files["garbage"].write_bytes(np.random.default_rng(7).bytes(50_000))
    files["empty"].write_bytes(b"")
    files["text"].write_text("These are meeting notes, not a recording.\n")
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "20", str(files["silence"]))
    ffmpeg("-f", "lavfi", "-i", "anoisesrc=d=20:c=white:r=16000:a=0.3", str(files["noise"]))
    ffmpeg("-f", "lavfi", "-i", "sine=f=440:d=20", "-f", "lavfi", "-i", "sine=f=554:d=20",
           "-filter_complex", "amix=inputs=2", str(files["tone"]))  # fmt: skip
    _reversed(media / "sample.wav", files["reversed"])
    # Nearly two minutes of clear speech: longer than the windows some tests force.
    parts = [media / n for n in ("sample.wav", "jfk.flac", "sample.wav", "jfk.flac", "sample.wav")]
    inputs = [arg for p in parts for arg in ("-i", str(p))]
    chain = "".join(f"[{i}:a]aresample=16000,aformat=channel_layouts=mono[a{i}];" for i in range(5))
    concat = "".join(f"[a{i}]" for i in range(5)) + "concat=n=5:v=0:a=1"
    ffmpeg(*inputs, "-filter_complex", chain + concat, str(files["long"]))
    return files


def _reversed(source: Path, out: Path) -> None:
    """Speech played backwards: voice-like, past VAD, no language's words (the first pass loops).
    Made as ``tests/engine/test_multipass.py`` makes it (decoded by PyAV, reversed, 16-bit)."""
    from trax.engine.audio import decode_windows, probe

    media = probe(source, max_bytes=10**10, max_duration=10**6)
    audio = np.concatenate([w.samples for w in decode_windows(media, window_seconds=600,
                                                              max_duration=600)])  # fmt: skip
    pcm = (np.clip(audio[::-1], -1, 1) * 32767).astype("<i2")
    with wave.open(str(out), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16_000)
        wav.writeframes(pcm.tobytes())


# --- databases ---------------------------------------------------------------------------------


def _pg_available() -> bool:
    async def probe() -> None:
        import asyncpg

        conn = await asyncpg.connect(PG_ADMIN_URL, timeout=3)
        await conn.close()

    try:
        asyncio.run(probe())
    except Exception:  # any failure to connect means "not available"
        return False
    return True


@pytest.fixture(scope="session")
def pg_available() -> bool:
    return _pg_available()


def _pg_admin(sql: str) -> None:
    async def run() -> None:
        import asyncpg

        conn = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


@pytest.fixture
def pg_url(pg_available: bool) -> Iterator[str]:
    """A throwaway PostgreSQL database, dropped after the test."""
    if not pg_available:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}")
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN_URL}")
    name = f"trax_test_{uuid.uuid4().hex[:12]}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    url = sa.make_url(PG_ADMIN_URL).set(drivername="postgresql+asyncpg", database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using this runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'trax.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def settings(tmp_path: Path, model_cache: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        model_cache_dir=model_cache,
        cpu_threads=2,
    )


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    async with open_runtime(settings, migrate=True) as rt:
        yield rt


@pytest.fixture
async def jobs_env(settings: Settings, runtime: Runtime) -> AsyncIterator[tuple[Runtime, Queue]]:
    """The migrated database plus the embedded broker and its in-process worker pool."""
    async with job_runtime(settings) as env:
        yield env


# --- the command line --------------------------------------------------------------------------


@pytest.fixture
def cli_env(tmp_path: Path, model_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh embedded data directory for CLI runs; returns it."""
    data = tmp_path / "trax-data"
    monkeypatch.setenv("TRAX_DATA_DIR", str(data))
    monkeypatch.setenv("TRAX_MODEL_CACHE_DIR", str(model_cache))
    monkeypatch.setenv("TRAX_CPU_THREADS", "2")
    monkeypatch.delenv("TRAX_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield data
    get_settings.cache_clear()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


S = TypeVar("S", bound=socketserver.BaseServer)


@contextmanager
def serving(server: S) -> Iterator[S]:
    """Run a stdlib socket server (HTTP receivers, file servers) in a thread while in use."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def copy_media(src: Path, dest_dir: Path, name: str | None = None) -> Path:
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / (name or src.name)
    shutil.copyfile(src, target)
    return target


# --- S3: moto's server in its own process --------------------------------------------------------

REGION = "us-east-1"
KEY_ID, SECRET = "testing", "testing"  # moto accepts any credentials


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str

    def client(self) -> S3Client:
        return s3_client(
            endpoint_url=self.endpoint_url,
            region=REGION,
            access_key_id=KEY_ID,
            secret_access_key=SECRET,
        )


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"moto server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        except OSError:
            time.sleep(0.1)
        else:
            return
    pytest.fail(f"moto server did not listen on 127.0.0.1:{port} within {seconds} s")


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's S3 server in a separate process: its memory is not ours (the RSS test needs that)."""
    port = free_port()
    cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port, proc)
        yield S3Server(f"http://127.0.0.1:{port}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def s3(s3_server: S3Server) -> S3Client:
    return s3_server.client()


@pytest.fixture
def bucket(s3: S3Client) -> str:
    """A fresh bucket per test."""
    name = f"trax-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name
