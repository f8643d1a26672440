"""Operator commands: list users, list and revoke API keys (a revoked key is refused over HTTP
within the seconds the server remembers a key)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from trax.config import get_settings
from trax.users.auth import CALLER_TTL_SECONDS

from ..api.conftest import serve
from .test_transcribe import trax


def create_key(email: str) -> str:
    created = trax("apikeys", "create", email)
    assert created.exit_code == 0, created.output
    key = created.stdout.strip()
    assert key.startswith("trx_")
    return key


def test_users_list(cli_env: Path) -> None:
    assert "no users yet" in trax("users", "list").stdout
    assert trax("users", "create", "ada@example.com", "--admin").exit_code == 0
    assert trax("users", "create", "bob@example.com").exit_code == 0
    create_key("ada@example.com")
    create_key("ada@example.com")

    listed = json.loads(trax("users", "list", "--json").stdout)
    assert [(u["email"], u["is_admin"], u["api_keys"]) for u in listed] == [
        ("ada@example.com", True, 2), ("bob@example.com", False, 0),
    ]  # fmt: skip
    assert all(u["created_at"] and u["id"] for u in listed)
    table = trax("users", "list").stdout
    assert "ada@example.com" in table
    assert "bob@example.com" in table


def test_apikeys_list_and_revoke(cli_env: Path) -> None:
    for email in ("ada@example.com", "bob@example.com"):
        assert trax("users", "create", email).exit_code == 0
    used, spare = create_key("ada@example.com"), create_key("ada@example.com")
    bobs = create_key("bob@example.com")

    with serve(get_settings()) as url, httpx.Client(base_url=url, timeout=10) as http:

        def status(key: str) -> int:
            return http.get(
                "/api/v1/users/me", headers={"Authorization": f"Bearer {key}"}
            ).status_code

        assert status(used) == 200

        out = trax("apikeys", "list", "ada@example.com", "--json").stdout
        assert used not in out
        assert spare not in out
        keys = json.loads(out)
        assert sorted(k["prefix"] for k in keys) == sorted([used[:8], spare[:8]])
        assert {k["email"] for k in keys} == {"ada@example.com"}
        by_prefix = {k["prefix"]: k for k in keys}
        assert by_prefix[used[:8]]["last_used_at"] is not None
        assert by_prefix[spare[:8]]["last_used_at"] is None
        everyone = json.loads(trax("apikeys", "list", "--json").stdout)
        assert len(everyone) == 3
        assert bobs not in trax("apikeys", "list").stdout

        revoked = trax("apikeys", "revoke", by_prefix[used[:8]]["id"])
        assert revoked.exit_code == 0, revoked.output
        # The server remembers a key's owner for CALLER_TTL_SECONDS: refused within that time.
        deadline = time.monotonic() + CALLER_TTL_SECONDS + 1.0
        while status(used) != 401:
            assert time.monotonic() < deadline, "the revoked key is still accepted"
            time.sleep(0.1)
        assert status(spare) == 200
        assert status(bobs) == 200
        assert len(json.loads(trax("apikeys", "list", "--json").stdout)) == 2

    again = trax("apikeys", "revoke", by_prefix[used[:8]]["id"])
    assert again.exit_code == 1
    assert "no API key with id" in again.stderr
    nobody = trax("apikeys", "list", "nobody@example.com")
    assert nobody.exit_code == 1
    assert "no user with email 'nobody@example.com'" in nobody.stderr
