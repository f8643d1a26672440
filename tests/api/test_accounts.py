"""Accounts over real HTTP: registration, login, JWT checks, API keys, login rate limit."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest

from trax.config import Settings
from trax.users.auth import AUDIENCE, ISSUER, signing_key

from .conftest import register, serve


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_register_login_and_use_a_token(server: str) -> None:
    with httpx.Client(base_url=server, timeout=10) as http:
        ada = register(http, "Ada@Example.com")
        me = http.get("/api/v1/users/me", headers=ada.headers)
        assert me.status_code == 200
        assert me.json()["email"] == "ada@example.com"
        again = http.post(
            "/api/v1/auth/register", json={"email": "ada@example.com", "password": "x" * 12}
        )
        assert again.status_code == 409
        wrong = http.post(
            "/api/v1/auth/token", data={"username": "ada@example.com", "password": "nope-nope"}
        )
        assert wrong.status_code == 401
        assert wrong.json()["error"]["code"] == "unauthorized"
        nobody = http.post(
            "/api/v1/auth/token", data={"username": "who@example.com", "password": "nope-nope"}
        )
        assert nobody.json() == wrong.json()  # no hint whether the account exists
        assert http.get("/api/v1/users/me").status_code == 401
        short = http.post("/api/v1/auth/register", json={"email": "b@example.com", "password": "x"})
        assert short.status_code == 422


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_forged_expired_and_foreign_tokens_are_refused(server: str, api_settings: Settings) -> None:
    with httpx.Client(base_url=server, timeout=10) as http:
        ada = register(http, "ada@example.com")
        key = signing_key(api_settings)
        now = datetime.now(UTC)
        good = {"sub": ada.id, "aud": AUDIENCE, "iss": ISSUER, "iat": now,
                "exp": now + timedelta(minutes=5)}  # fmt: skip
        assert (
            http.get(
                "/api/v1/users/me",
                headers={"Authorization": f"Bearer {jwt.encode(good, key, algorithm='HS256')}"},
            ).status_code
            == 200
        )
        unsigned = (
            f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64({**good, 'iat': 0, 'exp': 2**40})}."
        )
        forged = [
            unsigned,
            jwt.encode(good, "not-the-server-key-but-long-enough-32b", algorithm="HS256"),
            jwt.encode({**good, "exp": now - timedelta(seconds=1)}, key, algorithm="HS256"),
            jwt.encode({**good, "aud": "someone-else"}, key, algorithm="HS256"),
            jwt.encode({k: v for k, v in good.items() if k != "exp"}, key, algorithm="HS256"),
            jwt.encode(good, key, algorithm="HS512"),
            "not-a-token",
        ]
        for token in forged:
            answer = http.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 401, token
            assert answer.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_login_attempts_are_rate_limited(api_settings: Settings) -> None:
    settings = api_settings.model_copy(update={"login_rate_limit": "3/minute"})
    with serve(settings) as url, httpx.Client(base_url=url, timeout=10) as http:
        register(http, "ada@example.com")  # one login
        form = {"username": "ada@example.com", "password": "wrong password"}
        statuses = [http.post("/api/v1/auth/token", data=form).status_code for _ in range(3)]
        assert statuses == [401, 401, 429]
        limited = http.post(
            "/api/v1/auth/token", data={**form, "password": "correct horse battery"}
        )
        assert limited.status_code == 429  # even the right password waits
        assert int(limited.headers["retry-after"]) > 0
        assert limited.json()["error"]["code"] == "rate_limited"
        other = http.post("/api/v1/auth/token", data={**form, "username": "bob@example.com"})
        assert other.status_code == 401  # counted per account and address


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_closed_registration_and_api_keys(api_settings: Settings) -> None:
    import anyio

    from trax.runtime import open_runtime
    from trax.users import service

    settings = api_settings.model_copy(update={"allow_registration": False})

    async def operator_key() -> str:
        async with open_runtime(settings, migrate=True) as rt, rt.db.session() as s:
            await service.create_user(s, "ops@example.com")
            return await service.create_api_key(s, "ops@example.com")

    key = anyio.run(operator_key)
    with serve(settings) as url, httpx.Client(base_url=url, timeout=10) as http:
        closed = http.post("/api/v1/auth/register", json={"email": "a@b.co", "password": "x" * 9})
        assert closed.status_code == 403
        me = http.get("/api/v1/users/me", headers={"Authorization": f"Bearer {key}"})
        assert me.json()["email"] == "ops@example.com"
        bad = http.get("/api/v1/users/me", headers={"Authorization": f"Bearer {key}x"})
        assert bad.status_code == 401


def test_the_websocket_needs_a_valid_credential(server: str) -> None:
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    ws_url = server.replace("http://", "ws://") + "/api/v1/ws"
    for suffix in ["", "?token=not-a-token"]:
        with connect(ws_url + suffix) as ws, pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1008
    with httpx.Client(base_url=server, timeout=10) as http:
        ada = register(http, "ada@example.com")
    with connect(f"{ws_url}?token={ada.token}") as ws, pytest.raises(TimeoutError):
        ws.recv(timeout=0.5)  # accepted, quiet: no jobs yet
