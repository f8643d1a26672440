"""Speakers over real HTTP: OpenAI's ``diarized_json``, listing and renaming speakers, and the
captions that show the new name."""

from __future__ import annotations

from pathlib import Path

import anyio
import httpx

from trax.config import Settings

from .test_openai_compat import make_key


def test_diarized_json_then_rename_shows_in_captions(
    server: str, settings: Settings, media: Path
) -> None:
    key = anyio.run(make_key, settings)
    auth = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=server, timeout=120, headers=auth) as http:
        with (media / "sample.wav").open("rb") as audio:
            answer = http.post(
                "/v1/audio/transcriptions",
                files={"file": ("sample.wav", audio, "audio/wav")},
                data={"model": "tiny.en", "response_format": "diarized_json"},
            )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["text"]
        assert {s["speaker"] for s in body["segments"]} == {"Speaker 1", "Speaker 2"}
        assert all(s["type"] == "transcript.text.segment" for s in body["segments"])
        assert all(s["start"] <= s["end"] for s in body["segments"])

        (item,) = http.get("/api/v1/transcripts").json()["items"]
        tid = item["id"]
        assert item["stage"] == "diarized"
        listed = http.get(f"/api/v1/transcripts/{tid}/speakers").json()
        assert [s["name"] for s in listed["speakers"]] == ["Speaker 1", "Speaker 2"]

        renamed = http.post(
            f"/api/v1/transcripts/{tid}/speakers/rename", json={"from": "Speaker 2", "to": "Bo"}
        )
        assert renamed.status_code == 201, renamed.text
        assert [s["name"] for s in renamed.json()["speakers"]] == ["Speaker 1", "Bo"]
        vtt = http.get(f"/api/v1/transcripts/{tid}/captions", params={"format": "vtt"}).text
        assert "<v Bo>" in vtt
        assert "<v Speaker 2>" not in vtt
        missing = http.post(
            f"/api/v1/transcripts/{tid}/speakers/rename", json={"from": "Nobody", "to": "X"}
        )
        assert missing.status_code == 422
        assert missing.json()["error"]["details"]
