"""``POST /api/v1/transcripts/{id}/edits`` over real HTTP: a correction becomes a version
(stage ``edited``) that captions and search show; bad edits are 422, others' transcripts 404."""

from __future__ import annotations

from pathlib import Path

import httpx

from .conftest import register
from .test_stages import stored, transcribe


def test_an_edit_is_a_new_version_everyone_reads(server: str, media: Path) -> None:
    with httpx.Client(base_url=server, timeout=60) as http:
        ada = register(http, "ada@example.com")
        bo = register(http, "bo@example.com")
        tid = transcribe(http, ada, stored(http, ada, media / "jfk.flac"))["transcript_id"]
        base = f"/api/v1/transcripts/{tid}"
        words = http.get(base, headers=ada.headers).json()["document"]["segments"][0]["words"]
        index = next(i for i, w in enumerate(words) if "Americans" in w["text"])

        made = http.post(f"{base}/edits", headers=ada.headers,
                         json={"segment": 0, "word": index, "text": "citizens"})  # fmt: skip
        assert made.status_code == 201, made.text
        summary = made.json()
        assert (summary["version"], summary["stage"], summary["parent_version"]) == (2, "edited", 1)
        assert summary["options"]["by"] == "ada@example.com"
        latest = http.get(base, headers=ada.headers).json()
        word = latest["document"]["segments"][0]["words"][index]
        assert (word["text"], word["start"], word["end"]) == (
            " citizens", words[index]["start"], words[index]["end"],
        )  # fmt: skip
        srt = http.get(f"{base}/captions", headers=ada.headers, params={"format": "srt"}).text
        assert "citizens" in srt
        hits = http.get("/api/v1/search", headers=ada.headers, params={"q": "citizens"}).json()
        assert [r["transcript_id"] for r in hits["items"]] == [tid]

        missing = http.post(f"{base}/edits", headers=ada.headers,
                            json={"segment": 40, "text": "x"})  # fmt: skip
        assert missing.status_code == 422
        assert missing.json()["error"]["details"][0]["loc"] == ["segment"]
        theirs = http.post(f"{base}/edits", headers=bo.headers, json={"segment": 0, "text": "x"})
        assert theirs.status_code == 404
