"""Library search at scale: 10,000 transcripts (~1 million segments) on SQLite and PostgreSQL.

    uv run python bench/search.py [--transcripts 10000] [--segments 100] [--repeat 30]
                                  [--backends sqlite,postgresql] [--json out.json]

The text comes from real transcripts: the shared recordings (``../shared/media``) are transcribed
once with tiny.en, and every generated segment is a walk over the word bigrams of those
transcripts, as long as a real segment (so words keep their real neighbours and frequencies;
nothing is lorem ipsum). Rows are written with bulk SQL (media, transcripts, versions, then the
segments into ``segment_hits``, whose triggers / generated column build the full-text index), all
owned by one user: the worst case for a per-user search. Timed:

- **index build**: inserting the ~1M segment rows with the index kept in sync, and a full rebuild
  of the index (FTS5 ``rebuild`` / ``REINDEX`` of the GIN index).
- **queries**: :func:`trax.search.service.search` as the API calls it (a page of 20 transcripts
  with their best hits, highlighted), ``--repeat`` times each after a warm-up; p50 and p95 per kind
  (single words, phrases, prefixes), with how many segments each query matches.

SQLite goes to a temporary directory; PostgreSQL to a throwaway database ``trax_bench_search`` on
``--pg-url``'s server, dropped afterwards. Benchmarks are not tests: see ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import statistics
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from trax.config import Settings
from trax.db import Database, upgrade
from trax.engine.asr import EngineConfig, Transcriber
from trax.engine.audio import probe
from trax.engine.models import LoadOptions
from trax.engine.options import TranscribeOptions
from trax.media.models import Media
from trax.pagination import PageRequest
from trax.search import service
from trax.search.models import SegmentHit
from trax.transcripts.models import Transcript, TranscriptVersion
from trax.users.models import User

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"
RECORDINGS = ("jfk.flac", "apollo11.mp3", "multilingual.mp3", "sample.wav", "hotwords.mp3",
              "stereo_diarization.wav")  # fmt: skip
PG_DATABASE = "trax_bench_search"
QUERIES = {
    "word": ["houston", "chicago", "country", "yankee", "recommendation", "beep", "okay"],
    "phrase": ['"ask not"', '"new jersey"', '"originally from chicago"', '"good deal"'],
    "prefix": ["hous*", "chica*", "rec*", "americ*", "orig*"],
    # the corpus's rarest words (0.4-1.4 % of the segments) and a word it does not hold
    "rarer": ["fait", "restricted", "sell", "portion", "published", "zebra"],
}
TARGET_P95_MS = 50.0
BATCH = 20_000


def real_segments(model_cache: Path) -> list[list[str]]:
    """The words of every segment tiny.en hears in the shared recordings."""
    transcriber = Transcriber(EngineConfig(model_cache_dir=model_cache,
                                           load=LoadOptions(cpu_threads=2)))  # fmt: skip
    out = []
    for name in RECORDINGS:
        media = probe(MEDIA / name, max_bytes=10**10, max_duration=10**6)
        doc = transcriber.transcribe(media, TranscribeOptions(model="tiny.en"))
        out.extend(s.text.split() for s in doc.segments if s.text.split())
    return out


class Generator:
    """Segments made by walking the real transcripts' word bigrams."""

    def __init__(self, segments: list[list[str]], seed: int = 12) -> None:
        self.rng = random.Random(seed)
        self.lengths = [min(len(s), 30) for s in segments]
        self.starts = [s[0] for s in segments]
        self.follow: dict[str, list[str]] = defaultdict(list)
        for words in segments:
            for a, b in itertools.pairwise(words):
                self.follow[a].append(b)

    def segment(self) -> str:
        word = self.rng.choice(self.starts)
        words = [word]
        for _ in range(self.rng.choice(self.lengths) - 1):
            nxt = self.follow.get(word)
            word = self.rng.choice(nxt) if nxt else self.rng.choice(self.starts)
            words.append(word)
        return " ".join(words)


def library(gen: Generator, transcripts: int, per: int, owner: str) -> Iterator[tuple[
        dict[str, Any], dict[str, Any], dict[str, Any], list[dict[str, Any]]]]:  # fmt: skip
    now = datetime.now(UTC)
    for i in range(transcripts):
        mid, tid = str(uuid.uuid4()), str(uuid.uuid4())
        media = {"id": mid, "created_at": now, "owner_id": owner, "sha256": f"{i:064x}",
                 "filename": f"recording-{i:05d}.flac", "size_bytes": 1, "format_name": "flac",
                 "audio_codec": "flac", "has_video": False,
                 "storage_key": f"bench/{i}"}  # fmt: skip
        transcript = {"id": tid, "created_at": now, "updated_at": now, "media_id": mid,
                      "recipe_key": "bench"}  # fmt: skip
        n = gen.rng.randint(per // 2, per * 3 // 2)
        texts = [gen.segment() for _ in range(n)]
        version = {"id": str(uuid.uuid4()), "created_at": now, "transcript_id": tid, "version": 1,
                   "stage": "basic", "model": "tiny.en", "language": "en", "duration": 4.0 * n,
                   "text": " ".join(texts), "document": {}}  # fmt: skip
        hits = [{"transcript_id": tid, "media_id": mid, "owner_id": owner, "version": 1,
                 "stage": "basic", "segment": k, "start": 4.0 * k, "end": 4.0 * k + 3.5,
                 "speaker": None, "language": "en", "analyzer": "english", "text": text,
                 "created_at": now} for k, text in enumerate(texts)]  # fmt: skip
        yield media, transcript, version, hits


async def build(db: Database, gen: Generator, transcripts: int, per: int) -> dict[str, float]:
    await upgrade(db)
    owner = str(uuid.uuid4())
    async with db.session() as s:
        await s.execute(sa.insert(User), [{"id": owner, "created_at": datetime.now(UTC),
                                            "email": "bench@example.com"}])  # fmt: skip
    segments, rows_s, hits_s = 0, 0.0, 0.0
    pending: list[tuple[Any, ...]] = []

    async def flush() -> None:
        nonlocal segments, rows_s, hits_s
        t0 = time.perf_counter()
        async with db.session() as s:
            await s.execute(sa.insert(Media), [p[0] for p in pending])
            await s.execute(sa.insert(Transcript), [p[1] for p in pending])
            await s.execute(sa.insert(TranscriptVersion), [p[2] for p in pending])
            t1 = time.perf_counter()
            hits = [h for p in pending for h in p[3]]
            await s.execute(sa.insert(SegmentHit), hits)
        t2 = time.perf_counter()
        rows_s, hits_s, segments = rows_s + t1 - t0, hits_s + t2 - t1, segments + len(hits)
        pending.clear()

    for item in library(gen, transcripts, per, owner):
        pending.append(item)
        if len(pending) * per >= BATCH:
            await flush()
    if pending:
        await flush()
    async with db.engine.begin() as conn:
        t0 = time.perf_counter()
        if db.is_sqlite:
            for table in ("segment_fts_en", "segment_fts"):
                await conn.execute(sa.text(f"INSERT INTO {table}({table}) VALUES('rebuild')"))
        else:
            await conn.execute(sa.text("REINDEX INDEX ix_segment_hits_tsv"))
            await conn.execute(sa.text("ANALYZE segment_hits"))
        rebuild = time.perf_counter() - t0
    return {
        "segments": segments,
        "other_rows_s": rows_s,
        "index_insert_s": hits_s,
        "rebuild_s": rebuild,
        "owner": owner,
    }  # type: ignore[dict-item]


async def measure(db: Database, owner: str, repeat: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    cpu: list[float] = []  # this process's CPU time per query (SQLite runs in-process)
    for kind, queries in QUERIES.items():
        times: list[float] = []
        per_query = {}
        for q in queries:
            async with db.session() as s:
                matched = await _count(s, q, owner)
            mine = []
            for i in range(repeat + 2):
                t0, c0 = time.perf_counter(), time.process_time()
                async with db.session() as s:
                    items, _ = await service.search(
                        s, service.SearchRequest(q), PageRequest(limit=20), owner
                    )
                if i >= 2:  # two warm-up runs
                    mine.append((time.perf_counter() - t0) * 1000)
                    cpu.append((time.process_time() - c0) * 1000)
            times.extend(mine)
            per_query[q] = {"matches": matched, "p50_ms": _pct(mine, 50),
                            "p95_ms": _pct(mine, 95), "transcripts": len(items)}  # fmt: skip
        results[kind] = {"p50_ms": _pct(times, 50), "p95_ms": _pct(times, 95),
                         "cpu_p50_ms": _pct(cpu, 50), "queries": per_query}  # fmt: skip
        cpu.clear()
    results["load_average"] = os.getloadavg()[1]
    return results


async def _count(s: Any, q: str, owner: str) -> int:
    from trax.search import repository
    from trax.search.query import parse

    return await repository.count(s, parse(q), repository.Filters(owner))


def _pct(values: list[float], p: int) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return round(statistics.quantiles(values, n=100, method="inclusive")[p - 1], 1)


async def run_backend(
    backend: str, url: str, gen: Generator, args: argparse.Namespace, reuse: bool = False
) -> dict[str, Any]:
    db = Database(url)
    try:
        if reuse:  # --keep: a library built by an earlier run
            async with db.session() as s:
                owner = str(await s.scalar(sa.select(User.id).limit(1)))
                count = int(await s.scalar(sa.select(sa.func.count()).select_from(SegmentHit)) or 0)
            print(f"{backend}: reusing the kept library ({count:,} segments)", flush=True)
            return {"build": {"segments": count, "reused": True},
                    "queries": await measure(db, owner, args.repeat)}  # fmt: skip
        built = await build(db, gen, args.transcripts, args.segments)
        owner = str(built.pop("owner"))
        print(f"{backend}: {built['segments']:,} segments; inserting them with the index "
              f"{built['index_insert_s']:.1f} s; full rebuild {built['rebuild_s']:.1f} s",
              flush=True)  # fmt: skip
        return {"build": built, "queries": await measure(db, owner, args.repeat)}
    finally:
        await db.dispose()


async def pg_admin(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def pg_exists(url: str) -> bool:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        found = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", PG_DATABASE)
        return found is not None
    finally:
        await conn.close()


async def main(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="trax-bench-search-") as tmp:
        keep: Path | None = args.keep
        sqlite_file = (keep or Path(tmp)) / "bench.db"
        reuse_sqlite = keep is not None and args.kept_sqlite
        reuse_pg = keep is not None and await pg_exists(args.pg_url)
        gen = Generator([["unused"]])
        if not (reuse_sqlite and reuse_pg):
            segments = real_segments(Path(args.model_cache or Settings().model_cache_dir))
            gen = Generator(segments)
            print(f"{len(segments)} real segments, {len(gen.follow)} distinct words", flush=True)
        out: dict[str, Any] = {}
        for backend in args.backends.split(","):
            gen.rng.seed(12)  # the same library on both
            if backend == "sqlite":
                out[backend] = await run_backend(
                    backend, f"sqlite+aiosqlite:///{sqlite_file}", gen, args, reuse_sqlite
                )
                continue
            if not reuse_pg:
                await pg_admin(args.pg_url, f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)')
                await pg_admin(args.pg_url, f'CREATE DATABASE "{PG_DATABASE}"')
            try:
                url = sa.make_url(args.pg_url).set(drivername="postgresql+asyncpg",
                                                   database=PG_DATABASE)  # fmt: skip
                out[backend] = await run_backend(
                    backend, url.render_as_string(hide_password=False), gen, args, reuse_pg
                )
            finally:
                if keep is None:
                    await pg_admin(
                        args.pg_url, f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'
                    )
        return out


def report(out: dict[str, Any]) -> None:
    print("\n| backend | kind | p50 ms | p95 ms | client CPU p50 ms | target p95 < 50 ms |")
    print("| --- | --- | --- | --- | --- | --- |")
    for backend, res in out.items():
        print(f"| {backend} | load average (5 min) while measuring: "
              f"{res['queries']['load_average']:.1f} | | | | |")  # fmt: skip
        for kind, r in res["queries"].items():
            if kind == "load_average":
                continue
            verdict = "PASS" if r["p95_ms"] < TARGET_P95_MS else "FAIL"
            print(f"| {backend} | {kind} | {r['p50_ms']} | {r['p95_ms']} | {r['cpu_p50_ms']} "
                  f"| {verdict} |")  # fmt: skip
    print("\n| backend | query | matching segments | p50 ms | p95 ms |")
    print("| --- | --- | --- | --- | --- |")
    for backend, res in out.items():
        for kind, r in res["queries"].items():
            if kind == "load_average":
                continue
            for q, m in r["queries"].items():
                print(f"| {backend} | `{q}` | {m['matches']:,} | {m['p50_ms']} | {m['p95_ms']} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--transcripts", type=int, default=10_000)
    parser.add_argument("--segments", type=int, default=100, help="mean segments per transcript")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--model-cache", default=None)
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--keep",
        type=Path,
        help="keep the libraries (SQLite file in this "
        "directory, the PostgreSQL database) and reuse them on the next run",
    )
    args = parser.parse_args()
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
    args.kept_sqlite = args.keep is not None and (args.keep / "bench.db").exists()
    result = asyncio.run(main(args))
    report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
