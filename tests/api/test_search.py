"""``GET /api/v1/search`` over real HTTP: a user's own library, hits that link into it, and no
query string that can make the server fail."""

from __future__ import annotations

from pathlib import Path

import httpx
import hypothesis
from hypothesis import strategies as st

from .conftest import register, wait_for_job
from .test_resources import upload


def hostile_queries() -> list[str]:
    """Generated strings (text, and runs of FTS5/tsquery syntax), collected once."""
    found: list[str] = []
    syntax = ['"', "*", "-", "OR", "NOT", "(", ")", ":", "'", "&", "|", "!", "ask", "é", "%", "+"]

    @hypothesis.given(st.text(max_size=30) | st.lists(st.sampled_from(syntax)).map(" ".join))
    @hypothesis.settings(max_examples=80, derandomize=True, database=None, deadline=None)
    def collect(q: str) -> None:
        found.append(q)

    collect()
    return found


def test_search_finds_own_hits_links_them_and_never_fails(server: str, media: Path) -> None:
    with httpx.Client(base_url=server, timeout=60) as http:
        alice, bob = register(http, "alice@example.com"), register(http, "bob@example.com")
        project = http.post("/api/v1/projects", headers=alice.headers, json={"name": "Speeches"})
        item = upload(http, alice, media / "jfk.flac", project_id=project.json()["id"]).json()
        job = http.post(
            "/api/v1/transcriptions", headers=alice.headers, json={"media_id": item["id"]}
        ).json()
        tid = wait_for_job(http, alice, job["id"])["transcript_id"]

        def search(who: httpx.Headers | dict[str, str], **params: str) -> httpx.Response:
            return http.get("/api/v1/search", headers=who, params=params)

        found = search(alice.headers, q='"ASK NOT"', project="Speeches")
        assert found.status_code == 200, found.text
        (result,) = found.json()["items"]
        assert (result["transcript_id"], result["filename"]) == (tid, "jfk.flac")
        (hit,) = result["hits"]
        assert "<mark>ask not</mark>" in hit["snippet"].lower()
        assert hit["link"].startswith(f"/api/v1/transcripts/{tid}?t=")
        assert http.get(hit["link"], headers=alice.headers).status_code == 200
        assert search(bob.headers, q="ask").json()["items"] == [], "another user's never appear"

        for params, field in [({"q": "-ask"}, "q"), ({"q": "ask", "limit": "0"}, "limit"),
                              ({"q": "ask", "since": "2026-01-01T00:00:00"}, "since"),
                              ({"q": "ask", "cursor": "x"}, "cursor")]:  # fmt: skip
            refused = search(alice.headers, **params)
            assert refused.status_code == 422, params
            assert refused.json()["error"]["details"][0]["loc"] == [field]
        listed = http.get("/api/v1/transcripts", headers=alice.headers, params={"q": "ask"})
        assert listed.status_code == 422, "q is not silently ignored"
        assert "/api/v1/search" in listed.json()["error"]["message"]

        operation = http.get("/openapi.json").json()["paths"]["/api/v1/search"]["get"]
        documented = {p["name"] for p in operation["parameters"]}
        assert documented >= {"q", "project", "language", "speaker", "stage", "since", "until",
                              "limit", "cursor"}  # fmt: skip

        for q in hostile_queries():
            answer = search(alice.headers, q=q)
            assert answer.status_code in (200, 422), (q, answer.text)

        assert http.delete(f"/api/v1/media/{item['id']}", headers=alice.headers).is_success
        assert search(alice.headers, q="ask").json()["items"] == []
