"""``trax serve --workers 2``: two server processes behind one port, each with its in-process
job pool and its sweep, on one embedded database. Every job runs once: one claim, one attempt,
one transcript version, one webhook event per outcome."""

from __future__ import annotations

import http.client
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psutil

from ..conftest import serving
from ..served import serve_env, trax_serve
from ..webhooks.conftest import Receiver
from .conftest import Account, register, wait_for_job
from .test_resources import upload

BEAMS = range(1, 7)  # six different option sets on one file: six jobs, six transcripts


def submit(url: str, who: Account, media_id: str, beam: int) -> dict[str, Any]:
    """One submission on its own connection, so that submissions spread over the workers."""
    with httpx.Client(base_url=url, timeout=60) as http:
        body = {"media_id": media_id, "model": "tiny.en", "beam_size": beam}
        answer = http.post("/api/v1/transcriptions", headers=who.headers, json=body)
        assert answer.status_code == 202, answer.text
        return dict(answer.json())


def test_server_workers_run_each_job_once(tmp_path: Path, model_cache: Path, media: Path) -> None:
    env = serve_env(
        tmp_path / "data",
        model_cache,
        outbound_allow_loopback="true",
        sweep_interval_seconds="1",  # both processes sweep often while the jobs run
        worker_threads="1",
        cpu_threads="1",
    )
    log = tmp_path / "serve.log"
    with (
        serving(Receiver()) as receiver,
        trax_serve(env, log, args=("--workers", "2")) as served,
        httpx.Client(base_url=served.url, timeout=60) as http,
    ):
        deadline = time.monotonic() + 60
        while len(psutil.Process(served.process.pid).children()) < 2:
            assert time.monotonic() < deadline, "trax serve did not start two workers"
            time.sleep(0.1)
        ada = register(http, "ada@example.com")
        hook = http.post("/api/v1/webhooks", headers=ada.headers, json={"url": receiver.url})
        assert hook.status_code == 201, hook.text
        item = upload(http, ada, media / "jfk.flac").json()

        with ThreadPoolExecutor(len(BEAMS)) as pool:
            jobs = list(pool.map(lambda b: submit(served.url, ada, item["id"], b), BEAMS))
        assert len({j["id"] for j in jobs}) == len(BEAMS)

        done = [wait_for_job(http, ada, j["id"], timeout=300) for j in jobs]
        assert [j["status"] for j in done] == ["succeeded"] * len(BEAMS), done
        assert [j["attempts"] for j in done] == [1] * len(BEAMS)
        transcripts = {j["transcript_id"] for j in done}
        assert len(transcripts) == len(BEAMS)
        for transcript_id in transcripts:
            path = f"/api/v1/transcripts/{transcript_id}/versions"
            versions = http.get(path, headers=ada.headers)
            assert [v["version"] for v in versions.json()] == [1]

        # One job.succeeded event per job, each delivered once.
        deadline = time.monotonic() + 120
        while True:
            events = [(r.headers["webhook-id"], json.loads(r.body)) for r in receiver.received]
            succeeded = [e for _, e in events if e["type"] == "job.succeeded"]
            if len(succeeded) >= len(BEAMS):
                break
            assert time.monotonic() < deadline, f"{len(succeeded)} job.succeeded events"
            time.sleep(0.2)
        assert sorted(e["data"]["job"]["id"] for e in succeeded) == sorted(j["id"] for j in jobs)
        ids = [event_id for event_id, _ in events]
        assert len(ids) == len(set(ids)), "an event was delivered twice"
    assert "Started parent process" in log.read_text()


def _hammer(conn: http.client.HTTPConnection, requests: int) -> None:
    """``requests`` keep-alive ``GET /health`` on one open connection."""
    for _ in range(requests):
        conn.request("GET", "/health")
        answer = conn.getresponse()
        answer.read()
        assert answer.status == 200
    conn.close()


def test_connections_opened_at_once_are_served_by_both_workers(
    tmp_path: Path, model_cache: Path
) -> None:
    """16 keep-alive connections opened together (as a proxy or wrk opens them) keep both
    processes busy: with one shared socket, one worker's event loop often accepted them all."""
    env = serve_env(tmp_path / "data", model_cache)
    with trax_serve(env, tmp_path / "serve.log", args=("--workers", "2")) as served:
        parent = psutil.Process(served.process.pid)
        deadline = time.monotonic() + 60
        while True:  # both workers listening on the port
            workers = parent.children()
            listening = [
                w
                for w in workers
                if any(c.status == psutil.CONN_LISTEN for c in w.net_connections("tcp"))
            ]
            if len(listening) == 2:
                break
            assert time.monotonic() < deadline, "two workers did not start listening"
            time.sleep(0.1)
        for _ in range(3):
            before = [sum(w.cpu_times()[:2]) for w in listening]
            # All 16 connected before any request: they wait together to be accepted.
            conns = [http.client.HTTPConnection("127.0.0.1", served.port) for _ in range(16)]
            for conn in conns:
                conn.connect()
            with ThreadPoolExecutor(16) as pool:
                list(pool.map(lambda c: _hammer(c, 150), conns))
            used = [sum(w.cpu_times()[:2]) - b for w, b in zip(listening, before, strict=True)]
            assert min(used) > 0.2 * sum(used), f"CPU seconds per worker: {used}"
