"""Pipelines over the API: the ``pipeline`` field, ``POST /transcripts/{id}/stages`` jobs with
their webhooks, reuse and cancel, versions with provenance, older versions' captions and diffs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

from trax.config import Settings

from ..conftest import serving
from ..webhooks.conftest import Receiver
from .conftest import Account, register, serve, wait_for_job
from .test_resources import delivery_log, upload


def stored(http: httpx.Client, who: Account, path: Path) -> str:
    response = upload(http, who, path)
    assert response.status_code == 201, response.text
    media_id: str = response.json()["id"]
    return media_id


def transcribe(http: httpx.Client, who: Account, media_id: str, **fields: Any) -> dict[str, Any]:
    created = http.post(
        "/api/v1/transcriptions", headers=who.headers, json={"media_id": media_id, **fields}
    )
    assert created.status_code == 202, created.text
    job: dict[str, Any] = wait_for_job(http, who, created.json()["id"])
    assert job["status"] == "succeeded", job
    return job


def test_stage_jobs_make_versions_with_provenance_and_webhooks(
    api_settings: Settings, media: Path
) -> None:
    api_settings = api_settings.model_copy(update={"outbound_allow_loopback": True})
    with (
        serving(Receiver()) as receiver,
        serve(api_settings) as server,
        httpx.Client(base_url=server, timeout=60) as http,
    ):
        ada = register(http, "ada@example.com")
        hook = http.post(
            "/api/v1/webhooks",
            headers=ada.headers,
            json={"url": receiver.url, "event_types": ["transcript.version_created"]},
        ).json()
        media_id = stored(http, ada, media / "jfk.flac")
        job = transcribe(http, ada, media_id, pipeline="v3")
        transcript_id = job["transcript_id"]
        assert job["transcript_version"] == 2
        base = f"/api/v1/transcripts/{transcript_id}"

        listed = http.get(f"{base}/versions", headers=ada.headers).json()
        assert [(v["version"], v["stage"], v["parent_version"]) for v in listed] == [
            (1, "basic", None),
            (2, "multipass", 1),
        ]
        assert listed[1]["options"]["beam_size"] >= 1
        assert listed[1]["engine"]["ctranslate2"]
        assert listed[1]["wall_seconds"] >= 0

        events = delivery_log(http, ada, hook["id"])
        assert len(events) == 2
        verifier = Webhook(hook["secret"])
        made = sorted(
            verifier.verify(r.body, r.headers)["data"]["version"]["version"]
            for r in receiver.received
        )
        assert made == [1, 2]

        # The same stage on the same version is reused: no new version, no new event.
        again = http.post(
            f"{base}/stages",
            headers=ada.headers,
            json={"stage": "multipass", "parent_version": 1},
        )
        assert again.status_code == 202, again.text
        reused = wait_for_job(http, ada, again.json()["id"])
        assert (reused["status"], reused["stage"], reused["transcript_version"]) == (
            "succeeded",
            "cached",
            2,
        )
        # Another recipe on the newest version is a new version.
        other = http.post(
            f"{base}/stages",
            headers=ada.headers,
            json={"stage": "multipass", "options": {"beam_size": 3}},
        )
        assert other.status_code == 202, other.text
        newer = wait_for_job(http, ada, other.json()["id"])
        assert newer["transcript_version"] == 3
        assert http.get(f"{base}/versions", headers=ada.headers).json()[2]["parent_version"] == 2

        first = http.get(f"{base}/captions", headers=ada.headers,
                         params={"format": "json", "version": 1})  # fmt: skip
        assert first.json()["provenance"]["stage"] == "basic"
        diff = http.get(f"{base}/diff", headers=ada.headers, params={"a": 1, "b": 3})
        assert diff.status_code == 200, diff.text
        assert diff.json()["words_a"] > 0


def test_stage_requests_are_checked_and_owned(server: str, media: Path) -> None:
    with httpx.Client(base_url=server, timeout=60) as http:
        ada = register(http, "ada@example.com")
        eve = register(http, "eve@example.com")
        media_id = stored(http, ada, media / "jfk.flac")
        refused = http.post(
            "/api/v1/transcriptions",
            headers=ada.headers,
            json={"media_id": media_id, "pipeline": "v2"},
        )
        assert refused.status_code == 422
        assert refused.json()["error"]["details"][0]["loc"] == ["pipeline"]
        assert "TRAX_LLM_API_KEY" in refused.json()["error"]["message"]  # no chat API set

        transcript_id = transcribe(http, ada, media_id)["transcript_id"]
        base = f"/api/v1/transcripts/{transcript_id}"
        cases = [
            ({"stage": "nope"}, ["stage"]),
            ({"stage": "diarized", "options": {"speakers": 0}}, ["options.speakers"]),
            (
                {"stage": "diarized", "options": {"speakers": 2, "max_speakers": 3}},
                ["options.speakers"],
            ),
            (
                {"stage": "diarized", "options": {"min_speakers": 4, "max_speakers": 2}},
                ["options.min_speakers"],
            ),
            ({"stage": "multipass", "options": {"beam_size": 0}}, ["options.beam_size"]),
            ({"stage": "multipass", "options": {"beam_size": "8"}}, ["options.beam_size"]),
            ({"stage": "multipass", "options": {"model": "/etc/passwd"}}, ["options.model"]),
            ({"stage": "multipass", "options": {"colour": "blue"}}, ["options.colour"]),
        ]
        for body, loc in cases:
            answer = http.post(f"{base}/stages", headers=ada.headers, json=body)
            assert answer.status_code == 422, (body, answer.text)
            assert answer.json()["error"]["details"][0]["loc"] == loc, answer.text
        missing = http.post(f"{base}/stages", headers=ada.headers,
                            json={"stage": "multipass", "parent_version": 7})  # fmt: skip
        assert missing.status_code == 404
        theirs = http.post(f"{base}/stages", headers=eve.headers, json={"stage": "multipass"})
        assert theirs.status_code == 404
        assert (
            http.get(f"{base}/diff", headers=eve.headers, params={"a": 1, "b": 1}).status_code
            == 404
        )


def test_a_queued_stage_job_can_be_cancelled(api_settings: Settings, media: Path) -> None:
    """One worker thread, busy with a longer recording: the stage job waits, is cancelled, and
    never makes a version."""
    settings = api_settings.model_copy(update={"worker_threads": 1, "max_file_bytes": 5_000_000})
    with serve(settings) as server, httpx.Client(base_url=server, timeout=60) as http:
        ada = register(http, "ada@example.com")
        transcript_id = transcribe(http, ada, stored(http, ada, media / "jfk.flac"))[
            "transcript_id"
        ]
        busy = http.post("/api/v1/transcriptions", headers=ada.headers,
                         json={"media_id": stored(http, ada, media / "apollo11.mp3")})  # fmt: skip
        assert busy.status_code == 202
        queued = http.post(f"/api/v1/transcripts/{transcript_id}/stages", headers=ada.headers,
                           json={"stage": "multipass"})  # fmt: skip
        assert queued.status_code == 202
        cancelled = http.post(f"/api/v1/jobs/{queued.json()['id']}/cancel", headers=ada.headers)
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
        assert wait_for_job(http, ada, busy.json()["id"])["status"] == "succeeded"
        assert wait_for_job(http, ada, queued.json()["id"])["status"] == "cancelled"
        versions = http.get(f"/api/v1/transcripts/{transcript_id}/versions", headers=ada.headers)
        assert [v["version"] for v in versions.json()] == [1]
