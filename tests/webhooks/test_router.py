"""``/api/v1/webhooks`` over real HTTP: a uvicorn server, a real database, a real receiver."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from trax.config import Settings

from ..api.conftest import Account, register, serve
from .conftest import Receiver


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    with serve(settings) as url:
        yield url


def _wait_delivered(http: httpx.Client, who: Account, endpoint_id: str) -> Any:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        page = http.get(f"/api/v1/webhooks/{endpoint_id}/deliveries", headers=who.headers)
        assert page.status_code == 200, page.text
        items = page.json()["items"]
        if items and items[0]["status"] != "pending":
            return items[0]
        time.sleep(0.1)
    pytest.fail("the test event was not delivered")


def test_endpoints_the_test_event_and_the_delivery_log(server: str, receiver: Receiver) -> None:
    with httpx.Client(base_url=server, timeout=30) as http:
        ada = register(http, "ada@example.com")
        grace = register(http, "grace@example.com")
        created = http.post(
            "/api/v1/webhooks",
            json={"url": receiver.url, "description": "ci", "event_types": ["job.failed"]},
            headers=ada.headers,
        )
        assert created.status_code == 201, created.text
        endpoint = created.json()
        secret = endpoint.pop("secret")
        assert secret.startswith("whsec_")
        assert endpoint["event_types"] == ["job.failed"]
        assert endpoint["enabled"] is True
        base = f"/api/v1/webhooks/{endpoint['id']}"

        listed = http.get("/api/v1/webhooks", headers=ada.headers).json()
        assert listed == {"items": [endpoint], "next_cursor": None}
        assert http.get(base, headers=ada.headers).json() == endpoint
        assert http.get("/api/v1/webhooks", headers=grace.headers).json()["items"] == []
        for method in ("GET", "DELETE"):
            hidden = http.request(method, base, headers=grace.headers)
            assert hidden.status_code == 404
            assert hidden.json()["error"]["code"] == "not_found"
        assert http.post(f"{base}/test", headers=grace.headers).status_code == 404

        queued = http.post(f"{base}/test", headers=ada.headers)
        assert queued.status_code == 202, queued.text
        assert queued.json()["event_type"] == "ping"
        delivery = _wait_delivered(http, ada, endpoint["id"])
        assert delivery["status"] == "succeeded"
        assert delivery["id"] == queued.json()["id"]
        assert [a["status_code"] for a in delivery["attempt_log"]] == [200]
        (request,) = receiver.received
        payload = Webhook(secret).verify(request.body, request.headers)
        assert payload["type"] == "ping"
        assert payload["data"]["endpoint_id"] == endpoint["id"]

        patched = http.patch(base, json={"enabled": False}, headers=ada.headers)
        assert patched.json()["enabled"] is False
        assert http.post(f"{base}/test", headers=ada.headers).status_code == 409

        assert http.delete(base, headers=ada.headers).status_code == 204
        assert http.get(base, headers=ada.headers).status_code == 404
        assert http.get("/api/v1/webhooks").status_code == 401


def test_unsafe_targets_are_refused_at_creation(server: str) -> None:
    with httpx.Client(base_url=server, timeout=30) as http:
        ada = register(http, "ada@example.com")
        for url in ("http://10.0.0.1/hook", "http://[fe80::1]/hook", "ftp://example.com/hook"):
            refused = http.post("/api/v1/webhooks", json={"url": url}, headers=ada.headers)
            assert refused.status_code == 400, refused.text
            assert refused.json()["error"]["code"] == "unsafe_url"
            assert refused.json()["error"]["message"].startswith(url)
        unknown = http.post(
            "/api/v1/webhooks",
            json={"url": "https://example.com/hook", "event_types": ["job.exploded"]},
            headers=ada.headers,
        )
        assert unknown.status_code == 422


def test_test_events_are_rate_limited_per_endpoint(server: str, receiver: Receiver) -> None:
    with httpx.Client(base_url=server, timeout=30) as http:
        ada = register(http, "ada@example.com")
        first, second = (
            http.post("/api/v1/webhooks", json={"url": url}, headers=ada.headers).json()["id"]
            for url in (receiver.url, receiver.url + "/other")
        )
        for _ in range(10):
            sent = http.post(f"/api/v1/webhooks/{first}/test", headers=ada.headers)
            assert sent.status_code == 202, sent.text
        refused = http.post(f"/api/v1/webhooks/{first}/test", headers=ada.headers)
        assert refused.status_code == 429, refused.text
        assert refused.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        other = http.post(f"/api/v1/webhooks/{second}/test", headers=ada.headers)
        assert other.status_code == 202, other.text
