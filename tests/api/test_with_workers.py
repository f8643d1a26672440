"""The API with a Redis broker: the server only enqueues; a separate ``trax worker`` process
runs the transcription and the webhook delivery (PostgreSQL, own redis-server)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from trax.config import Settings

from ..conftest import free_port, serving
from ..jobs.test_workers import RedisServer
from ..webhooks.conftest import Receiver
from .conftest import register, serve, wait_for_job
from .test_resources import upload


@pytest.mark.skipif(not shutil.which("redis-server"), reason="no redis-server")
def test_api_jobs_run_on_worker_processes(
    pg_url: str, tmp_path: Path, model_cache: Path, media: Path
) -> None:
    values = {
        "data_dir": tmp_path / "shared",
        "database_url": pg_url,
        "queue_namespace": f"trax-api-{uuid.uuid4().hex[:8]}",
        "model_cache_dir": model_cache,
        "cpu_threads": 1,
        "default_model": "tiny.en",
        "outbound_allow_loopback": True,
    }
    redis = RedisServer(free_port())
    redis.start()
    settings = Settings(**values, broker_url=redis.url)  # type: ignore[arg-type]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAX_")}
    env.update({f"TRAX_{k.upper()}": str(v) for k, v in values.items()})
    env["TRAX_BROKER_URL"] = redis.url
    worker: subprocess.Popen[bytes] | None = None
    try:
        with (
            serving(Receiver()) as receiver,
            serve(settings) as url,
            httpx.Client(base_url=url, timeout=60) as http,
        ):
            assert http.get("/ready").json()["broker"] is True
            ada = register(http, "ada@example.com")
            hook = http.post("/api/v1/webhooks", headers=ada.headers, json={"url": receiver.url})
            item = upload(http, ada, media / "jfk.flac").json()
            job = http.post(
                "/api/v1/transcriptions", headers=ada.headers, json={"media_id": item["id"]}
            ).json()
            time.sleep(1)
            queued = http.get(f"/api/v1/jobs/{job['id']}", headers=ada.headers).json()
            assert queued["status"] == "queued"  # the server does not run jobs itself
            cmd = [sys.executable, "-c", "from trax.cli import main; main()", "worker"]
            quiet = subprocess.DEVNULL
            worker = subprocess.Popen(
                cmd, env=env, start_new_session=True, stdout=quiet, stderr=quiet
            )
            done = wait_for_job(http, ada, job["id"], timeout=180)
            assert done["status"] == "succeeded", done
            assert done["lease_owner"] is None
            verifier = Webhook(hook.json()["secret"])
            deadline = time.monotonic() + 60
            while len(receiver.received) < 2 and time.monotonic() < deadline:
                time.sleep(0.2)
            events = {
                e["type"]: e
                for e in (verifier.verify(r.body, r.headers) for r in receiver.received)
            }
            assert set(events) == {"transcript.version_created", "job.succeeded"}
            assert events["job.succeeded"]["data"]["job"]["id"] == job["id"]
    finally:
        if worker is not None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
        redis.stop()
