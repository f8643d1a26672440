"""The HTTP API under load on loopback: read endpoints with wrk, and one 500 MB upload.

For each database (``--db sqlite``, ``--db postgresql`` or both), starts ``trax serve`` as a child
process on a fresh data directory (a throwaway PostgreSQL database on 127.0.0.1, migrated with
``trax db upgrade`` and dropped at the end), registers an account, uploads one of the shared
recordings plus ``--items - 1`` distinct clips cut from them, and transcribes them all with
``--model``, so every list below returns a full page. Then:

* read load: for each endpoint, ``wrk`` with ``--connections`` connections on ``--threads``
  threads for ``--duration`` seconds (after a short warm-up); prints requests/s, p50, p99 and
  errors (non-2xx answers and socket errors). The transcript list is read twice: the account's
  page of short transcripts, and a second account's page of the same transcripts made
  ``--long-hours`` long each (their text and segments repeated in the database), which must
  cost the same because lists do not read documents;
* upload: a WAV of ``--upload-mb`` MB (the shared recordings looped with ffmpeg, built once) is
  POSTed to ``/api/v1/media`` streamed from disk; prints MB/s and the server's RSS (the process
  and its children, polled) before, at its peak and after.

The server runs ``--workers`` processes (``trax serve --workers``, default 2).

Usage: ``uv run python bench/api_load.py [--db sqlite --db postgresql] [--duration 10]``
Needs ``wrk`` (Debian: ``apt-get install wrk``). Not a test; see bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import benchlib
import httpx
import imageio_ffmpeg
import psutil
import sqlalchemy as sa

PG_ADMIN_URL = os.environ.get("TRAX_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
MAX_UPLOAD_BYTES = 500 * benchlib.MB  # Trax's default TRAX_MAX_FILE_BYTES
MB = 1_000_000  # upload sizes and rates are in decimal megabytes
UNFINISHED = ("queued", "running")
ENDPOINTS = (
    "/health",  # no database, no auth: the framework's floor
    "/api/v1/users/me",  # authentication alone: the floor of every endpoint below
    "/api/v1/transcripts/{transcript_id}",
    "/api/v1/transcripts?limit=20",
    "/api/v1/media?limit=20",
    "/api/v1/jobs?limit=20",
)
#: Read with the second account, whose transcripts are ``--long-hours`` long.
LONG_ENDPOINTS = ("/api/v1/transcripts?limit=20",)
LONG_LABEL = " (long)"
#: Prints wrk's own summary as one JSON line (latencies in microseconds).
WRK_SCRIPT = """
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TRAX_BENCH_TOKEN")
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, '
    .. '"p99_us": %d, "status_errors": %d, "socket_errors": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
"""


@dataclass(frozen=True)
class Load:
    db: str
    endpoint: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int

    def row(self) -> tuple[object, ...]:
        return (self.db, f"`GET {self.endpoint}`", f"{self.requests_per_second:.0f}",
                f"{self.p50_ms:.1f}", f"{self.p99_ms:.1f}", self.requests, self.errors)  # fmt: skip


@dataclass(frozen=True)
class Upload:
    db: str
    megabytes: float
    seconds: float
    mb_per_second: float
    rss_before_mb: float
    rss_peak_mb: float
    rss_after_mb: float

    def row(self) -> tuple[object, ...]:
        numbers = (self.seconds, self.mb_per_second, self.rss_before_mb, self.rss_peak_mb,
                   self.rss_after_mb)  # fmt: skip
        return (self.db, f"{self.megabytes:.0f}", *(f"{n:.1f}" for n in numbers))


# --- inputs ----------------------------------------------------------------------------------


def ffmpeg(*args: str) -> None:
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args]
    subprocess.run(cmd, check=True, timeout=600)


def make_clips(media_dir: Path, recording: str, count: int, out: Path) -> list[Path]:
    """The recording itself, then ``count - 1`` distinct 4-15 s clips of the shared recordings."""
    clips = [media_dir / recording]
    sources = [media_dir / name for name in benchlib.RECORDINGS]
    for i in range(count - 1):
        clip = out / f"clip{i:03d}.flac"
        start, length = (i * 1.7) % 4, 4 + (i * 3) % 12
        source = sources[i % len(sources)]
        ffmpeg(
            *("-ss", f"{start}", "-t", f"{length}", "-i", str(source)),
            *("-ar", "16000", "-ac", "1", str(clip)),
        )
        clips.append(clip)
    return clips


def make_big_wav(media_dir: Path, recording: str, megabytes: float, path: Path) -> Path:
    """16 kHz mono PCM of about ``megabytes`` MB: the recording looped."""
    seconds = megabytes * MB / (benchlib.SAMPLE_RATE * 2)
    if megabytes * MB >= MAX_UPLOAD_BYTES:
        raise SystemExit(f"--upload-mb must stay under Trax's limit of {MAX_UPLOAD_BYTES} bytes")
    ffmpeg(
        *("-stream_loop", "-1", "-i", str(media_dir / recording), "-t", f"{seconds:.3f}"),
        *("-ar", "16000", "-ac", "1", "-c:a", "pcm_s16le", str(path)),
    )
    size = path.stat().st_size
    if size > MAX_UPLOAD_BYTES:
        raise SystemExit(f"{size} bytes is over Trax's upload limit of {MAX_UPLOAD_BYTES}")
    return path


# --- the server ------------------------------------------------------------------------------


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def database(kind: str) -> Iterator[str | None]:
    """``TRAX_DATABASE_URL`` for a fresh database (None: the embedded SQLite default)."""
    if kind == "sqlite":
        yield None
        return
    name = f"trax_bench_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        url = sa.make_url(PG_ADMIN_URL).set(drivername="postgresql+asyncpg", database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def trax_server(tmp: Path, db_url: str | None, args: argparse.Namespace) -> Iterator[Server]:
    """``trax serve`` in a child process; stopped (SIGTERM, then SIGKILL) on the way out."""
    _, cache_dir = benchlib.model_location(args.model)
    env = benchlib.trax_env(
        benchlib.child_env(),
        tmp / "data",
        cache_dir,
        cpu_threads=args.cpu_threads,
        default_model=args.model,
        access_token_minutes=240,
    )
    env["HF_HUB_OFFLINE"] = "1"
    trax = str(Path(sys.executable).with_name("trax"))
    if db_url is not None:
        env["TRAX_DATABASE_URL"] = db_url
        subprocess.run([trax, "db", "upgrade"], env=env, check=True, capture_output=True)
    port = free_port()
    log = (tmp / "server.log").open("wb")
    cmd = [trax, "serve", "--port", str(port), "--workers", str(args.workers)]
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=log)
    server = Server(f"http://127.0.0.1:{port}", psutil.Process(proc.pid), tmp / "server.log")
    try:
        server.wait_ready()
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@dataclass
class Server:
    url: str
    process: psutil.Process
    log: Path

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/ready", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        tail = self.log.read_text(errors="replace")[-3000:]
        raise SystemExit(f"trax serve did not become ready:\n{tail}")

    def rss_mb(self) -> float:
        """RSS of the server and all its children."""
        total = 0
        for proc in [self.process, *self.process.children(recursive=True)]:
            with suppress(psutil.NoSuchProcess):
                total += proc.memory_info().rss
        return total / benchlib.MB


# --- long transcripts ------------------------------------------------------------------------


def _lengthen(row: dict[str, Any], hours: float) -> dict[str, Any]:
    """A transcript version's text and document segments repeated to last ``hours``."""
    doc = dict(row["document"])
    duration = max(float(row["duration"]), 1.0)
    times = max(1, int(hours * 3600 / duration))
    segments = []
    for i in range(times):
        shift = i * duration
        for seg in doc.get("segments", []):
            words = [{**w, "start": w["start"] + shift, "end": w["end"] + shift}
                     for w in seg.get("words", [])]  # fmt: skip
            segments.append({**seg, "start": seg["start"] + shift, "end": seg["end"] + shift,
                             "words": words})  # fmt: skip
    doc["segments"], doc["duration"] = segments, duration * times
    return {**row, "document": doc, "text": " ".join([row["text"]] * times),
            "duration": duration * times}  # fmt: skip


async def copy_long(db_url: str, hours: float) -> float:
    """Give ``long@example.com`` a copy of the bench account's media and transcripts, each
    version ``hours`` long (written straight into the database: transcribing hours of audio
    would take the bench hours). Returns the megabytes of documents and text written."""
    from sqlalchemy.ext.asyncio import create_async_engine

    from trax.db import new_id
    from trax.models import Base, User

    engine = create_async_engine(db_url)
    tables = Base.metadata.tables
    media, transcripts, versions = (
        tables[n] for n in ("media", "transcripts", "transcript_versions")
    )
    written = 0
    try:
        async with engine.begin() as conn:
            users = {r.email: r.id for r in await conn.execute(sa.select(User.id, User.email))}
            owner, target = users["bench@example.com"], users["long@example.com"]
            new_media: dict[str, str] = {}
            for m in (await conn.execute(media.select().where(media.c.owner_id == owner))).all():
                new_media[m.id] = new_id()
                await conn.execute(media.insert(), [{**m._asdict(), "id": new_media[m.id],
                                                     "owner_id": target}])  # fmt: skip
            stmt = transcripts.select().where(transcripts.c.media_id.in_(new_media))
            new_transcripts: dict[str, str] = {}
            for t in (await conn.execute(stmt)).all():
                new_transcripts[t.id] = new_id()
                row = {
                    **t._asdict(),
                    "id": new_transcripts[t.id],
                    "media_id": new_media[t.media_id],
                }
                await conn.execute(transcripts.insert(), [row])
            stmt = versions.select().where(versions.c.transcript_id.in_(new_transcripts))
            for v in (await conn.execute(stmt)).all():
                row = _lengthen(v._asdict(), hours)
                row.update(id=new_id(), transcript_id=new_transcripts[v.transcript_id])
                written += len(json.dumps(row["document"])) + len(row["text"])
                await conn.execute(versions.insert(), [row])
    finally:
        await engine.dispose()
    return written / MB


# --- measurements ----------------------------------------------------------------------------


def populate(http: httpx.Client, clips: Sequence[Path], model: str) -> dict[str, str]:
    """Upload and transcribe every clip; returns the ids to read (the first clip's)."""
    jobs = []
    for clip in clips:
        with clip.open("rb") as fh:
            item = http.post("/api/v1/media", files={"file": (clip.name, fh)})
        item.raise_for_status()
        job = http.post(
            "/api/v1/transcriptions", json={"media_id": item.json()["id"], "model": model}
        )
        job.raise_for_status()
        jobs.append(job.json()["id"])
    deadline = time.monotonic() + 600
    for job_id in jobs:
        state = wait_for_job(http, job_id, deadline)
        if state["status"] != "succeeded":
            raise SystemExit(f"job {job_id} {state['status']}: {state.get('error_message')}")
    first = http.get(f"/api/v1/jobs/{jobs[0]}").json()
    return {"transcript_id": first["transcript_id"]}


def wait_for_job(http: httpx.Client, job_id: str, deadline: float) -> dict[str, Any]:
    while (state := http.get(f"/api/v1/jobs/{job_id}").json())["status"] in UNFINISHED:
        if time.monotonic() > deadline:
            raise SystemExit(f"job {job_id} did not finish")
        time.sleep(0.25)
    return dict(state)


def register(url: str, email: str = "bench@example.com") -> str:
    account = {"email": email, "password": "correct horse battery"}
    httpx.post(f"{url}/api/v1/auth/register", json=account).raise_for_status()
    form = {"username": account["email"], "password": account["password"]}
    login = httpx.post(f"{url}/api/v1/auth/token", data=form)
    login.raise_for_status()
    return str(login.json()["access_token"])


def wrk(
    url: str, token: str, script: Path, seconds: float, args: argparse.Namespace
) -> dict[str, Any]:
    cmd = [
        *("wrk", "-t", str(args.threads), "-c", str(args.connections), "-d", f"{seconds}s"),
        *("--timeout", "10s", "-s", str(script), url),
    ]
    env = {**os.environ, "TRAX_BENCH_TOKEN": token}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    line = next(x for x in done.stdout.splitlines() if x.startswith("WRK_RESULT "))
    return dict(json.loads(line.removeprefix("WRK_RESULT ")))


def read_load(
    server: Server,
    db: str,
    tokens: tuple[str, str],
    ids: dict[str, str],
    tmp: Path,
    args: argparse.Namespace,
) -> list[Load]:
    """Each endpoint with the first account's token, then :data:`LONG_ENDPOINTS` with the
    second's (the long transcripts)."""
    script = tmp / "auth.lua"
    script.write_text(WRK_SCRIPT, encoding="utf-8")
    loads = []
    plan = [(e, tokens[0], e) for e in ENDPOINTS]
    plan += [(e, tokens[1], e + LONG_LABEL) for e in LONG_ENDPOINTS]
    for endpoint, token, label in plan:
        url = server.url + endpoint.format(**ids)
        wrk(url, token, script, args.warmup, args)
        r = wrk(url, token, script, args.duration, args)
        errors = r["status_errors"] + r["socket_errors"]
        rps = r["requests"] / (r["duration_us"] / 1e6)
        load = Load(db, label, rps, r["p50_us"] / 1e3, r["p99_us"] / 1e3, r["requests"], errors)
        print(
            f"  {label:40} {rps:8.0f} req/s  p50 {load.p50_ms:6.1f} ms  "
            f"p99 {load.p99_ms:6.1f} ms  errors {errors}",
            flush=True,
        )
        loads.append(load)
    return loads


class RssPeak(threading.Thread):
    """Polls the server's RSS until stopped; keeps the peak."""

    def __init__(self, server: Server, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.server, self.interval, self.peak_mb = server, interval, 0.0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            self.peak_mb = max(self.peak_mb, self.server.rss_mb())
            self.stopped.wait(self.interval)


def upload(server: Server, db: str, token: str, wav: Path) -> Upload:
    before = server.rss_mb()
    poller = RssPeak(server)
    poller.start()
    headers = {"Authorization": f"Bearer {token}"}
    with (
        httpx.Client(base_url=server.url, headers=headers, timeout=900) as http,
        wav.open("rb") as fh,
    ):
        start = time.perf_counter()
        answer = http.post("/api/v1/media", files={"file": (wav.name, fh, "audio/wav")})
        seconds = time.perf_counter() - start
    time.sleep(2)  # let the server settle before "after"
    poller.stopped.set()
    poller.join()
    answer.raise_for_status()
    megabytes = wav.stat().st_size / MB
    peak, after = max(poller.peak_mb, before), server.rss_mb()
    result = Upload(db, megabytes, seconds, megabytes / seconds, before, peak, after)
    print(
        f"  upload {megabytes:.0f} MB in {seconds:.1f} s = {result.mb_per_second:.0f} MB/s; "
        f"server RSS {before:.0f} → peak {result.rss_peak_mb:.0f} → {result.rss_after_mb:.0f} MB"
    )
    return result


def bench_db(
    db: str, clips: Sequence[Path], wav: Path | None, args: argparse.Namespace
) -> tuple[list[Load], Upload | None]:
    with tempfile.TemporaryDirectory(prefix=f"trax-bench-api-{db}-") as tmp_name:
        tmp = Path(tmp_name)
        with database(db) as db_url, trax_server(tmp, db_url, args) as server:
            print(f"{db}: trax serve at {server.url}, populating…", flush=True)
            token = register(server.url)
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=server.url, headers=headers, timeout=120) as http:
                ids = populate(http, clips, args.model)
            long_token = register(server.url, "long@example.com")
            url = db_url or f"sqlite+aiosqlite:///{tmp / 'data' / 'trax.db'}"
            megabytes = asyncio.run(copy_long(url, args.long_hours))
            print(
                f"{db}: the second account holds the same transcripts at {args.long_hours:g} h "
                f"each ({megabytes:.0f} MB of documents and text)",
                flush=True,
            )
            print(
                f"{db}: read load, {args.connections} connections, {args.duration:g} s each "
                f"(server RSS {server.rss_mb():.0f} MB)",
                flush=True,
            )
            loads = read_load(server, db, (token, long_token), ids, tmp, args)
            done = upload(server, db, token, wav) if wav is not None else None
    return loads, done


def report(loads: list[Load], uploads: list[Upload]) -> None:
    headers = ("db", "endpoint", "req/s", "p50 ms", "p99 ms", "requests", "errors")
    rows = [x.row() for x in loads]
    print("\n" + benchlib.markdown_table(headers, rows))
    if uploads:
        headers = ("db", "MB", "s", "MB/s", "RSS before MB", "RSS peak MB", "RSS after MB")
        rows = [u.row() for u in uploads]
        print("\n" + benchlib.markdown_table(headers, rows))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--db", action="append", choices=["sqlite", "postgresql"], help="repeatable; default: both"
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per endpoint")
    parser.add_argument("--warmup", type=int, default=2, help="seconds before each endpoint")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--items", type=int, default=20, help="media items (and transcripts)")
    parser.add_argument("--recording", default="sample.wav", help="the transcript that is read")
    parser.add_argument("--upload-mb", type=float, default=500.0, help="0: no upload")
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--cpu-threads", type=int, default=2, help="the server's TRAX_CPU_THREADS")
    parser.add_argument("--workers", type=int, default=2, help="trax serve --workers")
    parser.add_argument(
        "--long-hours", type=float, default=3.0, help="length of the second account's transcripts"
    )
    parser.add_argument("--media-dir", type=Path, default=benchlib.MEDIA_DIR)
    parser.add_argument("--json", type=Path, help="also save the results to this file")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    with tempfile.TemporaryDirectory(prefix="trax-bench-api-") as tmp_name:
        tmp = Path(tmp_name)
        clips = make_clips(args.media_dir, args.recording, args.items, tmp)
        wav = None
        if args.upload_mb > 0:
            print(f"building a {args.upload_mb:g} MB WAV…", flush=True)
            wav = make_big_wav(args.media_dir, args.recording, args.upload_mb, tmp / "big.wav")
        loads: list[Load] = []
        uploads: list[Upload] = []
        for db in args.db or ["sqlite", "postgresql"]:
            db_loads, db_upload = bench_db(db, clips, wav, args)
            loads += db_loads
            uploads += [db_upload] if db_upload else []
    report(loads, uploads)
    if args.json:
        settings = {k: v for k, v in vars(args).items() if k not in ("json", "media_dir")}
        payload = {
            "settings": settings,
            "cpus": os.cpu_count(),
            "load": [asdict(x) for x in loads],
            "upload": [asdict(u) for u in uploads],
        }
        benchlib.save_json(args.json, payload)


if __name__ == "__main__":
    main()
