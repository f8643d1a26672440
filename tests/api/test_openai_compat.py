"""The HTTP service over real HTTP: a uvicorn server on a loopback port, a real database."""

from __future__ import annotations

from pathlib import Path

import anyio
import httpx
import pytest
import srt

from trax.config import Settings
from trax.runtime import open_runtime

from .conftest import words_of


def test_health_ready_and_system_endpoints(server: str) -> None:
    with httpx.Client(base_url=server, timeout=10) as http:
        assert http.get("/health").json() == {"status": "ok"}
        assert http.get("/ready").json() == {"status": "ok", "database": True, "broker": True}
        assert http.get("/api/v1/system/version").json()["name"] == "trax"
        names = [m["name"] for m in http.get("/api/v1/system/models").json()]
        assert names[:2] == ["tiny.en", "base"]
        assert "/api/v1/system/models" in http.get("/openapi.json").json()["paths"]
        assert http.get("/docs").status_code == 200


def test_errors_have_one_json_shape(server: str) -> None:
    with httpx.Client(base_url=server, timeout=10) as http:
        missing = http.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json() == {
        "error": {"code": "not_found", "message": "Not Found", "details": None}
    }


async def make_key(settings: Settings) -> str:
    from trax.users import service

    async with open_runtime(settings) as rt, rt.db.session() as s:
        await service.create_user(s, "ada@example.com")
        return await service.create_api_key(s, "ada@example.com")


def test_the_openai_client_works_unchanged(
    server: str, settings: Settings, media: Path, jfk_text: str
) -> None:
    import openai

    key = anyio.run(make_key, settings)
    client = openai.OpenAI(api_key=key, base_url=f"{server}/v1", max_retries=0)
    with (media / "jfk.flac").open("rb") as audio:
        plain = client.audio.transcriptions.create(model="tiny.en", file=audio)
    assert words_of(plain.text) == words_of(jfk_text)
    with (media / "jfk.flac").open("rb") as audio:
        verbose = client.audio.transcriptions.create(
            model="tiny.en", file=audio, response_format="verbose_json",
            timestamp_granularities=["word"],
        )  # fmt: skip
    assert verbose.language == "en"
    assert verbose.words is not None
    assert [w.word for w in verbose.words][:3] == ["And", "so", "my"]
    with (media / "jfk.flac").open("rb") as audio:
        captions = client.audio.transcriptions.create(model="tiny.en", file=audio,
                                                      response_format="srt")  # fmt: skip
    assert list(srt.parse(str(captions)))
    assert [m.id for m in client.models.list()][:2] == ["whisper-1", "tiny.en"]
    with (media / "jfk.flac").open("rb") as audio:  # Trax's extra field, through the SDK
        refined = client.audio.transcriptions.create(
            model="tiny.en", file=audio, extra_body={"pipeline": "v3"}
        )
    assert words_of(refined.text) == words_of(jfk_text)
    with httpx.Client(base_url=server, timeout=30) as http:
        mine = http.get("/api/v1/transcripts", headers={"Authorization": f"Bearer {key}"})
        assert [t["filename"] for t in mine.json()["items"]] == ["jfk.flac"]  # the key's owner's
        assert [(t["version"], t["stage"]) for t in mine.json()["items"]] == [(2, "multipass")]
        unknown = http.post(
            "/v1/audio/transcriptions",
            headers={"Authorization": f"Bearer {key}"},
            files={"file": ("jfk.flac", (media / "jfk.flac").read_bytes())},
            data={"pipeline": "v9"},
        )
        assert unknown.status_code == 422
        assert unknown.json()["error"]["details"][0]["loc"] == ["pipeline"]
        wrong = http.post(
            "/v1/audio/transcriptions",
            headers={"Authorization": f"Bearer {key}"},
            files={"file": ("jfk.flac", (media / "jfk.flac").read_bytes())},
            data={"response_format": "mp3"},
        )
        assert wrong.status_code == 422
        assert wrong.json()["error"]["details"][0]["loc"] == ["body", "response_format"]
    bad = openai.OpenAI(api_key="trx_wrong", base_url=f"{server}/v1", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()


def test_oversize_upload_is_refused_and_nothing_is_kept(
    server: str, settings: Settings, media: Path
) -> None:
    key = anyio.run(make_key, settings)
    headers = {"Authorization": f"Bearer {key}"}
    big = (media / "jfk.flac").read_bytes() * 2  # over the 1 MB limit of this server
    with httpx.Client(base_url=server, timeout=30) as http:
        answer = http.post(
            "/v1/audio/transcriptions",
            headers=headers,
            files={"file": ("../../etc/x.flac", big)},
            data={"model": "tiny.en"},
        )
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "media_too_large"
    assert not any((settings.data_dir / "uploads").rglob("*.flac"))
