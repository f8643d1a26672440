"""The /api/v1 resources over real HTTP with real workers: upload → transcription job → live
progress on the WebSocket → transcript, versions and captions; ownership; uploads; paging."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import srt
import webvtt
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from websockets.sync.client import connect

from trax.config import Settings

from ..conftest import serving
from ..webhooks.conftest import Receiver
from .conftest import Account, register, serve, wait_for_job, words_of


def upload(http: httpx.Client, who: Account, path: Path, **fields: str) -> httpx.Response:
    with path.open("rb") as fh:
        return http.post(
            "/api/v1/media", headers=who.headers, files={"file": (path.name, fh)}, data=fields
        )


class Listener:
    """Collects WebSocket messages in a thread until a job-finished message arrives."""

    def __init__(self, server: str, token: str) -> None:
        self.url = server.replace("http://", "ws://") + f"/api/v1/ws?token={token}"
        self.messages: list[dict[str, Any]] = []
        self.connected = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.connected.wait(10), "the WebSocket did not connect"

    def _run(self) -> None:
        with connect(self.url) as ws:
            self.connected.set()
            for raw in ws:
                message = json.loads(raw)
                self.messages.append(message)
                if message["type"] != "job.progress":
                    return

    def finish(self, timeout: float = 120) -> list[dict[str, Any]]:
        """The messages, once the job-finished one has arrived (fails after ``timeout``)."""
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"no job-finished message in {timeout} s"
        return self.messages


def delivery_log(
    http: httpx.Client, who: Account, hook_id: str, timeout: float = 30
) -> list[dict[str, Any]]:
    """The endpoint's delivery log once every attempt made is recorded: the receiver answers
    before the server writes the attempt down, so the log is read until nothing is pending."""
    deadline = time.monotonic() + timeout
    while True:
        log = http.get(f"/api/v1/webhooks/{hook_id}/deliveries", headers=who.headers)
        items: list[dict[str, Any]] = log.json()["items"]
        if items and all(i["status"] != "pending" for i in items):
            return items
        if time.monotonic() > deadline:
            pytest.fail(f"deliveries still pending after {timeout} s: {items}")
        time.sleep(0.1)


def check_delivery(
    http: httpx.Client, who: Account, receiver: Receiver, hook: dict[str, Any], transcript_id: str
) -> None:
    """Two signed deliveries arrived (the new version, then the job's success), verify, and are
    in the delivery log."""
    verifier = Webhook(hook["secret"])
    entries = delivery_log(http, who, hook["id"])
    assert [(e["status"], e["attempts"]) for e in entries] == [("succeeded", 1)] * 2
    events = {}
    for received in receiver.received:
        event = verifier.verify(received.body, received.headers)  # raises if forged
        events[event["type"]] = (event, received)
    assert set(events) == {"transcript.version_created", "job.succeeded"}
    assert events["transcript.version_created"][0]["data"]["transcript_id"] == transcript_id
    event, delivered = events["job.succeeded"]
    assert event["data"]["job"]["transcript_id"] == transcript_id
    tampered = delivered.body.replace(b"succeeded", b"failed")
    with pytest.raises(WebhookVerificationError):
        verifier.verify(tampered, delivered.headers)


def check_exports(http: httpx.Client, who: Account, detail: dict[str, Any], text: str) -> None:
    """Captions in every format, laid out with the caption-line parameters."""
    transcript_id = detail["id"]
    base = f"/api/v1/transcripts/{transcript_id}/captions"
    as_srt = http.get(base, headers=who.headers, params={"format": "srt"})
    assert as_srt.headers["content-type"].startswith("application/x-subrip")
    assert 'filename="jfk.srt"' in as_srt.headers["content-disposition"]
    assert words_of(" ".join(c.content for c in srt.parse(as_srt.text))) == words_of(text)
    narrow = http.get(base, headers=who.headers, params={"format": "vtt", "max_line_chars": 20})
    cues = webvtt.from_string(narrow.text)
    assert all(len(line) <= 20 for c in cues for line in c.text.splitlines())
    assert http.get(base, headers=who.headers, params={"format": "txt"}).text.strip()
    as_json = http.get(base, headers=who.headers, params={"format": "json"}).json()
    assert as_json["segments"] == detail["document"]["segments"]
    bad = http.get(base, headers=who.headers, params={"max_line_chars": 3})
    assert bad.status_code == 422


def test_upload_transcribe_follow_live_webhook_and_export(
    api_settings: Settings, media: Path, jfk_text: str
) -> None:
    """The whole round trip a front end makes, with a webhook receiver on 127.0.0.1 that checks
    every signature."""
    api_settings = api_settings.model_copy(update={"outbound_allow_loopback": True})
    with (
        serving(Receiver()) as receiver,
        serve(api_settings) as server,
        httpx.Client(base_url=server, timeout=60) as http,
    ):
        ada = register(http, "ada@example.com")
        hook = http.post("/api/v1/webhooks", headers=ada.headers, json={"url": receiver.url})
        assert hook.status_code == 201, hook.text
        project = http.post("/api/v1/projects", headers=ada.headers, json={"name": "Speeches"})
        assert project.status_code == 201
        stored = upload(http, ada, media / "jfk.flac", project_id=project.json()["id"])
        assert stored.status_code == 201, stored.text
        item = stored.json()
        assert (item["filename"], item["project_id"]) == ("jfk.flac", project.json()["id"])
        assert item["duration"] == pytest.approx(11.0, abs=0.1)

        listener = Listener(server, ada.token)
        created = http.post(
            "/api/v1/transcriptions", headers=ada.headers, json={"media_id": item["id"]}
        )
        assert created.status_code == 202
        job_id = created.json()["id"]
        messages = listener.finish()
        assert messages[-1]["type"] == "job.succeeded"
        assert {m["job"]["id"] for m in messages} == {job_id}
        progress = [m["job"]["progress"] for m in messages if m["type"] == "job.progress"]
        assert progress == sorted(progress)  # as often as the job changes; none if it was quick
        transcript_id = messages[-1]["job"]["transcript_id"]

        check_delivery(http, ada, receiver, hook.json(), transcript_id)

        detail = http.get(f"/api/v1/transcripts/{transcript_id}", headers=ada.headers).json()
        assert words_of(detail["text"]) == words_of(jfk_text)
        assert detail["document"]["provenance"]["model"] == "tiny.en"
        versions = http.get(f"/api/v1/transcripts/{transcript_id}/versions", headers=ada.headers)
        assert [(v["version"], v["stage"]) for v in versions.json()] == [(1, "basic")]

        check_exports(http, ada, detail, jfk_text)

        again = http.post(
            "/api/v1/transcriptions", headers=ada.headers, json={"media_id": item["id"]}
        )
        cached = wait_for_job(http, ada, again.json()["id"])
        assert (cached["stage"], cached["transcript_id"]) == ("cached", transcript_id)
        listed = http.get("/api/v1/transcripts", headers=ada.headers).json()
        assert [t["id"] for t in listed["items"]] == [transcript_id]

        stored_files = list((api_settings.data_dir / "media").rglob("*.flac"))
        assert len(stored_files) == 1
        gone = http.delete(f"/api/v1/media/{item['id']}", headers=ada.headers)
        assert gone.status_code == 204
        assert not stored_files[0].exists()
        assert (
            http.get(f"/api/v1/transcripts/{transcript_id}", headers=ada.headers).status_code == 404
        )


def test_another_users_objects_answer_404(server: str, media: Path) -> None:
    with httpx.Client(base_url=server, timeout=60) as http:
        ada, bob = register(http, "ada@example.com"), register(http, "bob@example.com")
        project = http.post("/api/v1/projects", headers=ada.headers, json={"name": "Mine"}).json()
        item = upload(http, ada, media / "jfk.flac").json()
        job = http.post(
            "/api/v1/transcriptions", headers=ada.headers, json={"media_id": item["id"]}
        ).json()
        done = wait_for_job(http, ada, job["id"])
        tid = done["transcript_id"]
        for method, path in [
            ("GET", f"/api/v1/projects/{project['id']}"),
            ("PATCH", f"/api/v1/projects/{project['id']}"),
            ("DELETE", f"/api/v1/projects/{project['id']}"),
            ("GET", f"/api/v1/media/{item['id']}"),
            ("DELETE", f"/api/v1/media/{item['id']}"),
            ("GET", f"/api/v1/jobs/{job['id']}"),
            ("POST", f"/api/v1/jobs/{job['id']}/cancel"),
            ("POST", f"/api/v1/jobs/{job['id']}/retry"),
            ("GET", f"/api/v1/transcripts/{tid}"),
            ("GET", f"/api/v1/transcripts/{tid}/versions"),
            ("GET", f"/api/v1/transcripts/{tid}/captions"),
        ]:
            body = {"name": "x"} if method == "PATCH" else None
            answer = http.request(method, path, headers=bob.headers, json=body)
            assert answer.status_code == 404, (method, path, answer.text)
            assert answer.json()["error"]["code"] == "not_found"
        steal = http.post(
            "/api/v1/transcriptions", headers=bob.headers, json={"media_id": item["id"]}
        )
        assert steal.status_code == 404
        into = upload(http, bob, media / "jfk.flac", project_id=project["id"])
        assert into.status_code == 404
        for listing in ["projects", "media", "jobs", "transcripts"]:
            assert http.get(f"/api/v1/{listing}", headers=bob.headers).json()["items"] == []
        # Same name, other owner: allowed. Ada's things are untouched.
        assert (
            http.post("/api/v1/projects", headers=bob.headers, json={"name": "Mine"}).status_code
            == 201
        )
        assert http.get(f"/api/v1/transcripts/{tid}", headers=ada.headers).status_code == 200
        finished = http.post(f"/api/v1/jobs/{job['id']}/cancel", headers=ada.headers)
        assert finished.status_code == 409


def _multipart(name: str, payload: bytes, boundary: str = "trax-test-boundary") -> bytes:
    return (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + payload
        + f"\r\n--{boundary}--\r\n".encode()
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_uploads_are_checked_while_streaming(
    server: str, api_settings: Settings, media: Path, tmp_path: Path
) -> None:
    uploads = api_settings.data_dir / "uploads"
    big = (media / "jfk.flac").read_bytes() * 2  # over the 1.5 MB limit
    with httpx.Client(base_url=server, timeout=60) as http:
        ada = register(http, "ada@example.com")
        declared = http.post(
            "/api/v1/media", headers=ada.headers, files={"file": ("big.flac", big)}
        )
        assert declared.status_code == 413
        assert declared.json()["error"]["code"] == "media_too_large"

        body = _multipart("big.flac", big)

        def chunks() -> Any:  # no Content-Length: the server finds out while streaming
            for i in range(0, len(body), 65536):
                yield body[i : i + 65536]

        streamed = http.post(
            "/api/v1/media",
            headers={
                **ada.headers,
                "content-type": "multipart/form-data; boundary=trax-test-boundary",
            },
            content=chunks(),
        )
        assert streamed.status_code == 413
        assert "big.flac" in streamed.json()["error"]["message"]
        assert not any(p.is_file() for p in uploads.rglob("*"))

        sneaky = http.post(
            "/api/v1/media",
            headers=ada.headers,
            files={"file": ("../../../etc/evil.flac", (media / "jfk.flac").read_bytes())},
        )
        assert sneaky.status_code == 201
        assert sneaky.json()["filename"] == "evil.flac"
        assert not (api_settings.data_dir.parent / "etc").exists()

        notes = tmp_path / "notes.txt"
        notes.write_text("not audio at all\n" * 50)
        refused = upload(http, ada, notes)
        assert refused.status_code == 415
        assert refused.json()["error"]["message"].startswith("notes.txt: ")
        assert "/" not in refused.json()["error"]["message"].split(":")[0]

        no_file = http.post("/api/v1/media", headers=ada.headers, data={"project_id": "x"})
        assert no_file.status_code == 422
        assert http.post("/api/v1/media", headers=ada.headers, json={}).status_code == 422
        assert not any(p.is_file() for p in uploads.rglob("*"))


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_lists_use_cursor_pagination(server: str) -> None:
    with httpx.Client(base_url=server, timeout=30) as http:
        ada = register(http, "ada@example.com")
        names = [f"p{i}" for i in range(5)]
        for name in names:
            http.post("/api/v1/projects", headers=ada.headers, json={"name": name})
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = http.get("/api/v1/projects", headers=ada.headers, params=params).json()
            seen += [p["name"] for p in page["items"]]
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == names[::-1]
        assert pages == 3
        bad = http.get("/api/v1/projects", headers=ada.headers, params={"cursor": "garbage!"})
        assert bad.status_code == 422
        assert (
            http.get("/api/v1/projects", headers=ada.headers, params={"limit": 0}).status_code
            == 422
        )


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_values_the_database_refuses_are_client_errors(server: str) -> None:
    """PostgreSQL refuses NUL characters in text: that is a 422 naming the reason, not a 500."""
    with httpx.Client(base_url=server, timeout=30) as http:
        ada = register(http, "ada@example.com")
        named = http.post("/api/v1/projects", headers=ada.headers, json={"name": "a\u0000b"})
        assert named.status_code == 422
        assert "0x00" in named.json()["error"]["message"]
        assert http.get("/api/v1/projects/a%00b", headers=ada.headers).status_code == 422
        huge = http.get("/api/v1/transcripts/x", headers=ada.headers, params={"version": 2**40})
        assert huge.status_code == 422
