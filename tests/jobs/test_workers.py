"""Redis broker and real ``trax worker`` processes on a real PostgreSQL database.

Each test runs its own redis-server on a free loopback port (so it can restart it), uses its own
key namespace and its own throwaway PostgreSQL database.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import pytest

from trax.actors import build_queue
from trax.config import Settings
from trax.engine.options import TranscribeOptions
from trax.jobs import batch
from trax.jobs import service as jobs
from trax.jobs.models import Job, JobStatus
from trax.runtime import Runtime, open_runtime
from trax.transcripts import service as transcripts
from trax.users import service as users
from trax.webhooks import service as webhooks

from ..conftest import free_port, serving
from ..webhooks.conftest import Dripper

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(not shutil.which("redis-server"), reason="no redis-server"),
]
TINY = TranscribeOptions(model="tiny.en")


@dataclass
class RedisServer:
    port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no"]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer(free_port())
    server.start()
    yield server
    server.stop()


@dataclass
class Cluster:
    """One database, one broker, one storage; workers started and killed at will."""

    settings: Settings
    env: dict[str, str]
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start_worker(self, threads: int = 2) -> subprocess.Popen[bytes]:
        cmd = [sys.executable, "-c", "from trax.cli import main; main()", "worker",
               "--threads", str(threads)]  # fmt: skip
        proc = subprocess.Popen(cmd, env=self.env, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        self.workers.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        os.killpg(proc.pid, signal.SIGKILL)  # the worker and its forked processes
        proc.wait()

    def stop_all(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    self.kill(proc)


@pytest.fixture
async def cluster(
    pg_url: str, redis_server: RedisServer, tmp_path: Path, model_cache: Path
) -> Iterator[Cluster]:
    values = {
        "data_dir": tmp_path / "shared-storage",
        "database_url": pg_url,
        "broker_url": redis_server.url,
        "queue_namespace": f"trax-test-{uuid.uuid4().hex[:8]}",
        "model_cache_dir": model_cache,
        "cpu_threads": 1,
        "lease_seconds": 3.0,
        "sweep_interval_seconds": 1.0,
    }
    settings = Settings(**values)  # type: ignore[arg-type]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAX_")}
    env.update({f"TRAX_{k.upper()}": str(v) for k, v in values.items()})
    async with open_runtime(settings, migrate=True):
        pass
    c = Cluster(settings, env)
    yield c
    c.stop_all()


async def submit(c: Cluster, inputs: list[Path]) -> list[Job]:
    async with open_runtime(c.settings) as rt:
        return await batch.submit(rt, build_queue(c.settings), inputs, TINY)


async def rows(c: Cluster, ids: list[str]) -> list[Job]:
    async with open_runtime(c.settings) as rt, rt.db.session() as s:
        return await jobs.get_many(s, ids)


async def wait_until(c: Cluster, ids: list[str], done: object) -> list[Job]:
    with anyio.fail_after(180):
        while True:
            current = await rows(c, ids)
            if done(current):  # type: ignore[operator]
                return current
            await anyio.sleep(0.2)


async def transcript_count(rt: Runtime) -> int:
    async with rt.db.session() as s:
        return len(await transcripts.list_transcripts(s))


async def test_kill_9_of_a_worker_mid_job_still_completes_it_once(
    cluster: Cluster, media: Path
) -> None:
    first = cluster.start_worker()
    (job,) = await submit(cluster, [media / "apollo11.mp3"])
    await wait_until(cluster, [job.id], lambda r: r[0].stage == "transcribing")
    cluster.kill(first)
    cluster.start_worker()

    (done,) = await wait_until(cluster, [job.id], lambda r: r[0].status.finished)

    assert done.status is JobStatus.SUCCEEDED
    assert done.attempts == 2, "taken over once after the lease of the dead worker expired"
    async with open_runtime(cluster.settings) as rt:
        assert await transcript_count(rt) == 1


async def test_redis_restart_mid_batch_loses_nothing(
    cluster: Cluster, redis_server: RedisServer, media: Path, derived: dict[str, Path]
) -> None:
    inputs = [media / "hotwords.mp3", media / "jfk.flac", media / "sample.wav", derived["video"],
              media / "stereo_diarization.wav", derived["text"]]  # fmt: skip
    cluster.start_worker(threads=1)
    submitted = await submit(cluster, inputs)
    ids = [j.id for j in submitted]
    before = await wait_until(cluster, ids, lambda r: any(j.status.finished for j in r))
    assert not all(j.status.finished for j in before), "restart must happen mid-batch"
    redis_server.stop()  # every queued message is gone: the broker keeps nothing on disk
    redis_server.start()

    done = await wait_until(cluster, ids, lambda r: all(j.status.finished for j in r))

    assert [j.status for j in done] == [JobStatus.SUCCEEDED] * 5 + [JobStatus.FAILED]
    assert done[-1].error_kind == "bad_media"
    async with open_runtime(cluster.settings) as rt:
        assert await transcript_count(rt) == 5


async def test_second_identical_batch_is_served_from_the_cache(
    cluster: Cluster, media: Path
) -> None:
    cluster.start_worker()
    inputs = [media / "hotwords.mp3", media / "jfk.flac"]
    first = await submit(cluster, inputs)
    await wait_until(cluster, [j.id for j in first], lambda r: all(j.status.finished for j in r))
    started = time.monotonic()
    second = await submit(cluster, inputs)
    done = await wait_until(
        cluster, [j.id for j in second], lambda r: all(j.status.finished for j in r)
    )
    assert all(j.stage == "cached" for j in done)
    assert [j.transcript_id for j in done] == [
        j.transcript_id for j in await rows(cluster, [j.id for j in first])
    ]
    assert time.monotonic() - started < 10


async def test_slow_webhook_receivers_never_take_a_worker_s_transcription_threads(
    cluster: Cluster, media: Path
) -> None:
    """``trax worker`` runs deliveries on a pool of their own: deliveries held by a receiver
    that never finishes its answer do not keep the one transcription thread from a job."""
    cluster.env.update(
        TRAX_OUTBOUND_ALLOW_LOOPBACK="true",
        TRAX_WEBHOOK_WORKER_THREADS="1",
        TRAX_WEBHOOK_DEADLINE_SECONDS="120",
    )
    cluster.start_worker(threads=1)
    with serving(Dripper()) as dripper:
        try:
            async with open_runtime(cluster.settings) as rt:
                async with rt.db.session() as s:
                    owner = (await users.create_user(s, "ada@example.com")).id
                    for n in range(3):
                        await webhooks.create_endpoint(
                            s, owner, f"{dripper.url}/{n}", None, [], allow_loopback=True
                        )
                    refs = await webhooks.emit(s, owner, "job.succeeded", "e1", {"n": 1})
                build_queue(cluster.settings).enqueue(refs)
                with anyio.fail_after(60):
                    while dripper.requests < 1:
                        await anyio.sleep(0.1)
                sender = build_queue(cluster.settings)
                (job,) = await batch.submit(rt, sender, [media / "jfk.flac"], TINY)
                with anyio.fail_after(90):
                    (done,) = await batch.wait(rt, [job.id])
                assert done.status is JobStatus.SUCCEEDED
                async with rt.db.session() as s:
                    held = await jobs.get_many(s, [r.id for r in refs])
                assert not any(j.status.finished for j in held)  # the receiver still holds them
        finally:
            dripper.stop.set()
    assert dripper.requests == 1  # one webhook thread, still held by the first delivery
