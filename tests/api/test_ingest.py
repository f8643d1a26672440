"""URL ingest over real HTTP: downloaded first (from a file server on 127.0.0.1, allowed by the
development setting), stored in a real S3-protocol bucket, transcribed, deleted; and the SSRF
guard refusing private targets without ever connecting to them."""

from __future__ import annotations

import functools
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from pydantic import SecretStr

from trax.config import Settings

from ..conftest import KEY_ID, REGION, SECRET, S3Server, free_port, serving
from .conftest import register, serve, wait_for_job, words_of

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class FileServer(ThreadingHTTPServer):
    """Serves a directory on 127.0.0.1 and counts the connections it accepted."""

    daemon_threads = True

    def __init__(self, root: Path) -> None:
        handler = functools.partial(_QuietHandler, directory=str(root))
        super().__init__(("127.0.0.1", free_port()), handler)
        self.connections = 0

    def verify_request(self, request: Any, client_address: Any) -> bool:
        self.connections += 1
        return True

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/{name}"


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_url_ingest_into_s3_then_transcribe_and_delete(
    api_settings: Settings,
    s3_server: S3Server,
    s3: S3Client,
    bucket: str,
    media: Path,
    jfk_text: str,
) -> None:
    settings = api_settings.model_copy(
        update={
            "outbound_allow_loopback": True,
            "storage_backend": "s3",
            "s3_bucket": bucket,
            "s3_endpoint_url": s3_server.endpoint_url,
            "s3_region": REGION,
            "s3_access_key_id": KEY_ID,
            "s3_secret_access_key": SecretStr(SECRET),
        }
    )
    with (
        serving(FileServer(media)) as files,
        serve(settings) as url,
        httpx.Client(base_url=url, timeout=60) as http,
    ):
        ada = register(http, "ada@example.com")
        made = http.post(
            "/api/v1/media/url", headers=ada.headers, json={"url": files.url("jfk.flac")}
        )
        assert made.status_code == 201, made.text
        item = made.json()
        assert item["filename"] == "jfk.flac"
        (obj,) = s3.list_objects_v2(Bucket=bucket)["Contents"]
        assert obj["Size"] == (media / "jfk.flac").stat().st_size

        job = http.post(
            "/api/v1/transcriptions", headers=ada.headers, json={"media_id": item["id"]}
        ).json()
        done = wait_for_job(http, ada, job["id"])
        assert done["status"] == "succeeded", done
        text = http.get(f"/api/v1/transcripts/{done['transcript_id']}", headers=ada.headers)
        assert words_of(text.json()["text"]) == words_of(jfk_text)

        missing = http.post(
            "/api/v1/media/url", headers=ada.headers, json={"url": files.url("nothing.mp3")}
        )
        assert missing.status_code == 502
        assert "404" in missing.json()["error"]["message"]

        assert http.delete(f"/api/v1/media/{item['id']}", headers=ada.headers).status_code == 204
        assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
        assert not any(p.is_file() for p in (settings.data_dir / "scratch").rglob("*"))
        assert not any(p.is_file() for p in (settings.data_dir / "downloads").rglob("*"))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_url_ingest_refuses_private_targets_without_connecting(server: str, media: Path) -> None:
    with serving(FileServer(media)) as files, httpx.Client(base_url=server, timeout=30) as http:
        ada = register(http, "ada@example.com")
        port = files.server_address[1]
        for target in [
            files.url("jfk.flac"),  # loopback: refused unless explicitly allowed
            f"http://localhost:{port}/jfk.flac",
            f"http://[::ffff:127.0.0.1]:{port}/jfk.flac",
            f"http://2130706433:{port}/jfk.flac",  # 127.0.0.1 as one number
            "http://10.0.0.1/talk.mp3",
            "http://169.254.169.254/latest/meta-data/",
            "http://[fd00::1]/talk.mp3",
            "file:///etc/passwd",
            "ftp://example.com/talk.mp3",
        ]:
            answer = http.post("/api/v1/media/url", headers=ada.headers, json={"url": target})
            assert answer.status_code == 400, (target, answer.text)
            assert answer.json()["error"]["code"] == "unsafe_url"
        assert files.connections == 0
