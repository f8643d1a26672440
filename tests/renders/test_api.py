"""Renders over the HTTP API on a live server: refusals (422 naming the option, another owner's
404), a karaoke render checked in the downloaded video's pixels, progress on the WebSocket,
reuse, cancel killing FFmpeg, S3 storage, and renders deleted with their media."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import psutil
import pytest
from pydantic import SecretStr

from trax.config import Settings
from trax.engine.result import TranscriptDocument
from trax.media import service as media_service
from trax.runtime import open_runtime
from trax.transcripts import service as transcripts

from ..api.conftest import Account, register, serve, wait_for_job
from ..api.test_resources import Listener, upload
from ..conftest import KEY_ID, REGION, SECRET, S3Server
from .conftest import TINY, differing, frame_at, near

GREEN = (0, 255, 0)
KARAOKE = {"style": "karaoke", "overrides": {"font_size": 110, "highlight_colour": "#00ff00"}}


@pytest.fixture
def render_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"default_model": "tiny.en"})


def transcribed(
    http: httpx.Client,
    who: Account,
    path: Path,
    settings: Settings,
    document: TranscriptDocument,
) -> str:
    """Upload ``path`` and store its transcript (made once per session by the real model: a
    transcription job per test would cost seconds that rendering tests do not need)."""
    made = upload(http, who, path)
    assert made.status_code == 201, made.text

    async def save() -> str:
        async with open_runtime(settings) as rt, rt.db.session() as s:
            media = await media_service.get_media(s, made.json()["id"], who.id)
            transcript, _ = await transcripts.save_basic(s, media, TINY, document)
            return transcript.id

    return anyio.run(save)


def ffmpeg_children() -> list[psutil.Process]:
    return [p for p in psutil.Process(os.getpid()).children(recursive=True) if "ffmpeg" in p.name()]


def until(condition: Any, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_render_jobs_over_the_api(
    render_settings: Settings,
    talk: dict[str, Path],
    talk_transcript: TranscriptDocument,
    tmp_path: Path,
) -> None:
    data = render_settings.data_dir
    with serve(render_settings) as server, httpx.Client(base_url=server, timeout=60) as http:
        ada, bob = register(http, "ada@example.com"), register(http, "bob@example.com")
        video = transcribed(http, ada, talk["video"], render_settings, talk_transcript)
        base = f"/api/v1/transcripts/{video}/renders"
        refusals(http, base, ada, bob)
        karaoke_render(http, base, ada, bob, tmp_path)
        assert not any((data / "scratch").iterdir())  # the script and output went with the job

        # Audio only: a 1080p frame is rendered (a few seconds), with progress on the WebSocket.
        audio = transcribed(http, ada, talk["audio"], render_settings, talk_transcript)
        audio_base = f"/api/v1/transcripts/{audio}/renders"
        listener = Listener(server, ada.token)
        boxed = {"style": "boxed", "overrides": {"width": 1920, "height": 1080}}
        created = http.post(audio_base, headers=ada.headers, json=boxed).json()
        messages = listener.finish()
        assert messages[-1]["type"] == "job.succeeded"
        assert messages[-1]["job"]["id"] == created["id"]
        rendering = [m["job"]["progress"] for m in messages if m["job"]["stage"] == "rendering"]
        assert rendering, [m["job"]["stage"] for m in messages]
        assert all(0 <= p < 1 for p in rendering)

        cancel_while_rendering(http, audio_base, ada, data)

        # Deleting the media deletes its renders and their stored bytes.
        stored = list((data / "renders").rglob("*.mp4"))
        assert len(stored) == 2
        media_id = doc_media(http, ada, video)
        assert http.delete(f"/api/v1/media/{media_id}", headers=ada.headers).status_code == 204
        assert http.get(base, headers=ada.headers).status_code == 404
        assert len(list((data / "renders").rglob("*.mp4"))) == 1


def refusals(http: httpx.Client, base: str, ada: Account, bob: Account) -> None:
    """An unknown style or a bad option is 422 naming it; another owner's transcript, 404."""
    refused = http.post(base, headers=ada.headers, json={"style": "neon"})
    assert refused.status_code == 422
    assert refused.json()["error"]["details"][0]["loc"] == ["style"]
    refused = http.post(base, headers=ada.headers, json={"overrides": {"font_size": 999}})
    assert refused.status_code == 422
    assert refused.json()["error"]["details"][0]["loc"] == ["font_size"]
    assert http.post(base, headers=bob.headers, json={}).status_code == 404


def karaoke_render(
    http: httpx.Client, base: str, ada: Account, bob: Account, tmp_path: Path
) -> None:
    """A karaoke render: listed, downloadable by its owner only, the spoken word highlighted in
    the downloaded frames; the same request again reuses it."""
    created = http.post(base, headers=ada.headers, json=KARAOKE)
    assert created.status_code == 202, created.text
    assert created.json()["kind"] == "render"
    job = wait_for_job(http, ada, created.json()["id"])
    assert job["status"] == "succeeded", job
    render_id = job["render_id"]
    (listed,) = http.get(base, headers=ada.headers).json()
    assert listed["id"] == render_id
    assert (listed["width"], listed["height"], listed["style"]) == (320, 180, "karaoke")

    download = http.get(f"{base}/{render_id}/download", headers=ada.headers)
    assert download.status_code == 200
    assert download.headers["content-type"] == "video/mp4"
    assert len(download.content) == listed["size_bytes"]
    assert http.get(f"{base}/{render_id}/download", headers=bob.headers).status_code == 404
    saved = tmp_path / "render.mp4"
    saved.write_bytes(download.content)
    transcript = base.rsplit("/renders", 1)[0]
    doc = http.get(transcript, headers=ada.headers).json()["document"]
    word = doc["segments"][0]["words"][1]
    shown = frame_at(saved, (word["start"] + word["end"]) / 2)
    assert len(near(shown[120:], GREEN)) > 15  # the spoken word, highlighted
    assert differing(frame_at(saved, 1.0)[120:], (32, 64, 96)) == 0  # silence: no caption

    again = http.post(base, headers=ada.headers, json=KARAOKE).json()
    again = wait_for_job(http, ada, again["id"])
    assert (again["stage"], again["render_id"]) == ("cached", render_id)


def cancel_while_rendering(http: httpx.Client, base: str, ada: Account, data: Path) -> None:
    """Cancel while FFmpeg runs: it is killed, its scratch folder removed, no render kept."""
    big = {"style": "social", "overrides": {"width": 3840, "height": 2160}}  # slow: time to cancel
    created = http.post(base, headers=ada.headers, json=big).json()

    def rendering_now() -> bool:
        job = http.get(f"/api/v1/jobs/{created['id']}", headers=ada.headers).json()
        return bool(job["stage"] == "rendering" and ffmpeg_children())

    until(rendering_now)
    cancelled = http.post(f"/api/v1/jobs/{created['id']}/cancel", headers=ada.headers)
    assert cancelled.status_code == 200, cancelled.text
    until(lambda: not ffmpeg_children(), 10)
    until(lambda: not any((data / "scratch").iterdir()), 10)
    job = http.get(f"/api/v1/jobs/{created['id']}", headers=ada.headers).json()
    assert (job["status"], job["render_id"]) == ("cancelled", None)
    assert len(http.get(base, headers=ada.headers).json()) == 1


def doc_media(http: httpx.Client, who: Account, transcript_id: str) -> str:
    media_id: str = http.get(f"/api/v1/transcripts/{transcript_id}", headers=who.headers).json()[
        "media_id"
    ]
    return media_id


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_renders_in_s3_storage_are_downloaded_and_deleted_with_their_media(
    render_settings: Settings,
    s3_server: S3Server,
    s3: Any,
    bucket: str,
    talk: dict[str, Path],
    talk_transcript: TranscriptDocument,
) -> None:
    settings = render_settings.model_copy(
        update={
            "storage_backend": "s3",
            "s3_bucket": bucket,
            "s3_endpoint_url": s3_server.endpoint_url,
            "s3_region": REGION,
            "s3_access_key_id": KEY_ID,
            "s3_secret_access_key": SecretStr(SECRET),
        }
    )

    def render_keys() -> list[str]:
        listed = s3.list_objects_v2(Bucket=bucket, Prefix="renders/")
        return [o["Key"] for o in listed.get("Contents", [])]

    with serve(settings) as server, httpx.Client(base_url=server, timeout=60) as http:
        ada = register(http, "ada@example.com")
        video = transcribed(http, ada, talk["video"], settings, talk_transcript)
        base = f"/api/v1/transcripts/{video}/renders"
        created = http.post(base, headers=ada.headers, json={"style": "classic"}).json()
        job = wait_for_job(http, ada, created["id"])
        assert job["status"] == "succeeded", job
        (key,) = render_keys()
        head = s3.head_object(Bucket=bucket, Key=key)
        download = http.get(f"{base}/{job['render_id']}/download", headers=ada.headers)
        assert download.status_code == 200
        assert len(download.content) == head["ContentLength"]
        media_id = doc_media(http, ada, video)
        assert http.delete(f"/api/v1/media/{media_id}", headers=ada.headers).status_code == 204
        assert render_keys() == []
