"""The enhanced stage over the API with the scripted chat server: the ``v2`` pipeline, a stage
on a stored version, extras in the document, captions in sync, and ``GET /api/v1/costs``."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import srt
from pydantic import SecretStr

from trax.config import Settings

from ..chat_server import ChatServer
from .conftest import register, serve
from .test_stages import stored, transcribe


def test_v2_over_the_api_with_extras_captions_and_costs(
    api_settings: Settings, chat_server: ChatServer, media: Path
) -> None:
    settings = api_settings.model_copy(
        update={
            "llm_base_url": chat_server.url,
            "llm_api_key": SecretStr("sk-local"),
            "llm_model": "test-model",
            "llm_prices": '{"test-model": [1, 2]}',
            "job_max_attempts": 1,
        }
    )
    with serve(settings) as url, httpx.Client(base_url=url, timeout=60) as http:
        ada = register(http, "ada@example.com")
        eve = register(http, "eve@example.com")
        media_id = stored(http, ada, media / "jfk.flac")
        job = transcribe(http, ada, media_id, pipeline="v2")
        assert job["transcript_version"] == 2
        base = f"/api/v1/transcripts/{job['transcript_id']}"

        detail = http.get(base, headers=ada.headers).json()
        assert detail["stage"] == "enhanced"
        assert detail["document"]["extras"]["keywords"] == ["country", "speech"]
        captions = [
            list(srt.parse(http.get(f"{base}/captions", headers=ada.headers,
                                    params={"version": v}).text))
            for v in (1, 2)
        ]  # fmt: skip
        assert [(c.start, c.end) for c in captions[1]] == [(c.start, c.end) for c in captions[0]]

        refused = http.post(f"{base}/stages", headers=ada.headers,
                            json={"stage": "enhanced", "options": {"model": "gpt-4o"}})  # fmt: skip
        assert refused.status_code == 422
        assert refused.json()["error"]["details"][0]["loc"] == ["options.model"]
        bad = http.post(f"{base}/stages", headers=ada.headers,
                        json={"stage": "enhanced", "options": {"chunk_words": 5}})  # fmt: skip
        assert bad.json()["error"]["details"][0]["loc"] == ["options.chunk_words"]

        costs = http.get("/api/v1/costs", headers=ada.headers).json()
        stages = {line["key"]: line for line in costs["by_stage"]}
        calls = len(chat_server.seen)
        assert stages["enhanced"]["llm_usd"] == pytest.approx(calls * 0.002)
        assert stages["enhanced"]["prompt_tokens"] == 1000 * calls
        assert stages["basic"]["compute_usd"] > 0
        assert costs["total"]["versions"] == 2
        assert http.get("/api/v1/costs", headers=eve.headers).json()["total"]["versions"] == 0
        later = http.get("/api/v1/costs", headers=ada.headers, params={"since": "2999-01-01"})
        assert later.json()["total"]["total_usd"] == 0
