"""Abuse and races found when the service was tried as an attacker and as a new user would:
each answered with a clear 4xx (or 503/507), never a 500, and no one loses another's work.

A "holding" server has a Redis broker and no worker process: its jobs stay queued, so races on
job creation and deletion are observed without a worker finishing them first.
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from trax.cli import main
from trax.config import Settings, get_settings

from ..conftest import free_port
from ..jobs.test_workers import RedisServer
from .conftest import Account, register, serve, wait_for_job
from .test_resources import upload

pytestmark = pytest.mark.skipif(not shutil.which("redis-server"), reason="no redis-server")


@pytest.fixture
def holding_settings(api_settings: Settings) -> Iterator[Settings]:
    redis = RedisServer(free_port())
    redis.start()
    try:
        yield api_settings.model_copy(
            update={
                "broker_url": redis.url,
                "queue_namespace": f"t-{uuid.uuid4().hex[:8]}",
                "outbound_allow_loopback": True,
            }
        )
    finally:
        redis.stop()


@pytest.fixture
def holding(holding_settings: Settings) -> Iterator[str]:
    """A server whose jobs stay queued (a broker, no worker)."""
    with serve(holding_settings) as url:
        yield url


def _transcribe(
    http: httpx.Client, who: Account, media_id: str, **options: object
) -> httpx.Response:
    body = {"media_id": media_id, **options}
    return http.post("/api/v1/transcriptions", headers=who.headers, json=body)


def test_a_deleted_upload_fails_its_jobs_and_is_never_read_from_the_server_disk(
    holding: str, media: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A file of the same name sits in the server's working directory: it must never be used.
    monkeypatch.chdir(tmp_path)
    shutil.copyfile(media / "jfk.flac", tmp_path / "jfk.flac")
    with httpx.Client(base_url=holding, timeout=60) as http:
        ada = register(http, "ada@example.com")
        item = upload(http, ada, media / "jfk.flac").json()
        job = _transcribe(http, ada, item["id"]).json()
        assert job["status"] == "queued"
        assert http.delete(f"/api/v1/media/{item['id']}", headers=ada.headers).status_code == 204
        failed = http.get(f"/api/v1/jobs/{job['id']}", headers=ada.headers).json()
        assert (failed["status"], failed["error_kind"]) == ("failed", "media_deleted")
        retried = http.post(f"/api/v1/jobs/{job['id']}/retry", headers=ada.headers)
        assert retried.status_code == 409, retried.text
        assert "media was deleted" in retried.json()["error"]["message"]
        assert http.get("/api/v1/transcripts", headers=ada.headers).json()["items"] == []


def test_identical_concurrent_requests_share_one_media_and_one_job(
    holding: str, media: Path
) -> None:
    data = (media / "jfk.flac").read_bytes()
    with httpx.Client(base_url=holding, timeout=60) as http:
        ada = register(http, "ada@example.com")

    async def burst() -> tuple[list[httpx.Response], list[httpx.Response]]:
        async with httpx.AsyncClient(base_url=holding, timeout=120) as client:
            uploads = await asyncio.gather(
                *(
                    client.post(
                        "/api/v1/media", headers=ada.headers, files={"file": ("jfk.flac", data)}
                    )
                    for _ in range(20)
                )
            )
            media_id = uploads[0].json()["id"]
            body = {"media_id": media_id, "model": "tiny.en"}
            jobs = await asyncio.gather(
                *(
                    client.post("/api/v1/transcriptions", headers=ada.headers, json=body)
                    for _ in range(20)
                )
            )
            return uploads, jobs

    uploads, jobs = asyncio.run(burst())
    assert [r.status_code for r in uploads] == [201] * 20, [r.text for r in uploads]
    assert len({r.json()["id"] for r in uploads}) == 1
    assert [r.status_code for r in jobs] == [202] * 20, [r.text for r in jobs]
    assert len({r.json()["id"] for r in jobs}) == 1
    with httpx.Client(base_url=holding, timeout=60) as http:
        listed = http.get("/api/v1/jobs", headers=ada.headers).json()["items"]
        assert len(listed) == 1


def test_deleting_media_never_loses_another_owners_concurrent_upload(
    server: str, media: Path, api_settings: Settings
) -> None:
    data = (media / "jfk.flac").read_bytes()
    with httpx.Client(base_url=server, timeout=60) as http:
        alice = register(http, "alice@example.com")
        bob = register(http, "bob@example.com")
        for _ in range(15):
            mine = upload(http, alice, media / "jfk.flac").json()
            results: dict[str, httpx.Response] = {}

            def bob_uploads(results: dict[str, httpx.Response] = results) -> None:
                with httpx.Client(base_url=server, timeout=60) as other:
                    results["bob"] = other.post(
                        "/api/v1/media", headers=bob.headers, files={"file": ("jfk.flac", data)}
                    )

            thread = threading.Thread(target=bob_uploads)
            thread.start()
            deleted = http.delete(f"/api/v1/media/{mine['id']}", headers=alice.headers)
            thread.join()
            assert deleted.status_code == 204
            bobs = results["bob"]
            assert bobs.status_code == 201, bobs.text
            stored = api_settings.data_dir / "media"
            assert any(p.is_file() for p in stored.rglob("*")), "Bob's bytes were removed"
            # Bob's media still transcribes: its bytes are there.
            job = _transcribe(http, bob, bobs.json()["id"]).json()
            assert wait_for_job(http, bob, job["id"])["status"] == "succeeded"
            assert http.delete(f"/api/v1/media/{bobs.json()['id']}", headers=bob.headers)
            assert not any(p.is_file() for p in stored.rglob("*"))


def _forged_cursor() -> str:
    raw = json.dumps(["2026-01-01T00:00:00", "x"]).encode()  # a naive time: never one of ours
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_client_mistakes_are_422_at_once_naming_the_field(holding: str, media: Path) -> None:
    with httpx.Client(base_url=holding, timeout=60) as http:
        ada = register(http, "ada@example.com")
        item = upload(http, ada, media / "jfk.flac").json()
        cases = {
            "cursor": http.get(
                "/api/v1/jobs", headers=ada.headers, params={"cursor": _forged_cursor()}
            ),
            "max_cue_seconds": http.get(
                "/api/v1/transcripts/x/captions",
                headers=ada.headers,
                params={"max_cue_seconds": 1e-7},
            ),
            "language": _transcribe(http, ada, item["id"], language="xx"),
            "model": _transcribe(http, ada, item["id"], model="/etc"),
            "language ": _transcribe(http, ada, item["id"], model="tiny.en", language="de"),
        }
        for field, answer in cases.items():
            assert answer.status_code == 422, (field, answer.text)
            error = answer.json()["error"]
            assert field.strip() in json.dumps(error), (field, error)
        assert "English-only" in cases["language "].json()["error"]["message"]
        # Accepted spellings: upper-case codes, the models the server offers.
        ok = _transcribe(http, ada, item["id"], model="tiny.en", language="EN")
        assert ok.status_code == 202, ok.text
        assert ok.json()["options"]["language"] == "en"
        # The OpenAI-compatible endpoint refuses the same values at once, before any job.
        with (media / "jfk.flac").open("rb") as fh:
            compat = http.post(
                "/v1/audio/transcriptions", headers=ada.headers,
                files={"file": ("jfk.flac", fh)}, data={"model": "whisper-1", "language": "xx"},
            )  # fmt: skip
        assert compat.status_code == 422, compat.text
        assert "language" in compat.json()["error"]["message"]
        assert len(http.get("/api/v1/jobs", headers=ada.headers).json()["items"]) == 1


def test_an_operator_cancel_tells_the_owners_webhooks_like_the_api(
    holding_settings: Settings, holding: str, media: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with httpx.Client(base_url=holding, timeout=60) as http:
        ada = register(http, "ada@example.com")
        hook = http.post(
            "/api/v1/webhooks",
            headers=ada.headers,
            json={"url": f"http://127.0.0.1:{free_port()}/hook"},
        ).json()
        item = upload(http, ada, media / "jfk.flac").json()
        by_cli = _transcribe(http, ada, item["id"]).json()
        by_api = _transcribe(http, ada, item["id"], model="base").json()

        for key in ("data_dir", "database_url", "broker_url", "queue_namespace"):
            monkeypatch.setenv(f"TRAX_{key.upper()}", str(getattr(holding_settings, key)))
        get_settings.cache_clear()
        try:
            out = CliRunner().invoke(main, ["jobs", "cancel", by_cli["id"][:8]])
        finally:
            get_settings.cache_clear()
        assert out.exit_code == 0, out.output
        api = http.post(f"/api/v1/jobs/{by_api['id']}/cancel", headers=ada.headers)
        assert api.status_code == 200

        log = http.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=ada.headers).json()
        cancelled = {
            d["payload"]["data"]["job"]["id"]
            for d in log["items"]
            if d["event_type"] == "job.cancelled"
        }
        assert cancelled == {by_cli["id"], by_api["id"]}


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_lost_database_is_503_in_the_error_shape(server: str, api_settings: Settings) -> None:
    with httpx.Client(base_url=server, timeout=60) as http:
        ada = register(http, "ada@example.com")
        name = api_settings.resolved_database_url.rsplit("/", 1)[1]
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-c",
             f'DROP DATABASE "{name}" WITH (FORCE)'],
            check=True, capture_output=True,
        )  # fmt: skip
        answer = http.get("/api/v1/jobs", headers=ada.headers)
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["error"]["code"] == "service_unavailable"


def test_a_full_disk_is_507_in_the_error_shape(
    api_settings: Settings, media: Path, tmp_path: Path
) -> None:
    data_dir = tmp_path / "small-disk"
    data_dir.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", "size=1200k", "tmpfs", str(data_dir)]
    mounted = subprocess.run(mount, check=False, capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        settings = api_settings.model_copy(update={"data_dir": data_dir})
        with serve(settings) as url, httpx.Client(base_url=url, timeout=60) as http:
            ada = register(http, "ada@example.com")
            answer = upload(http, ada, media / "jfk.flac")  # 1.1 MB: more than is left
            assert answer.status_code == 507, answer.text
            assert answer.json()["error"]["code"] == "storage_full"
            assert http.get("/health").status_code == 200
    finally:
        subprocess.run(["umount", "-l", str(data_dir)], check=False)


def test_the_cli_says_in_one_line_that_the_database_is_unreachable(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "TRAX_DATABASE_URL", f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/x"
    )
    get_settings.cache_clear()
    out = CliRunner().invoke(main, ["list"])
    assert out.exit_code == 1, out.output
    assert "Traceback" not in out.output
    assert out.stderr.strip().startswith("error: the database cannot be reached")
    assert len(out.stderr.strip().splitlines()) == 1
