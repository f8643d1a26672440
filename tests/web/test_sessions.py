"""Sessions and CSRF over plain HTTP (no browser): forms without the session's token are refused,
a session is not an API token nor the reverse, and the cookie is Secure behind HTTPS."""

from __future__ import annotations

import re

import httpx

from ..api.conftest import serve
from .conftest import PASSWORD, Site, make_account


def _token(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def test_forms_without_the_csrf_token_are_refused(site: Site) -> None:
    make_account(site, "bo@example.com")
    with httpx.Client(base_url=site.url, timeout=30) as http:
        form = {"email": "bo@example.com", "password": PASSWORD}
        assert http.post("/login", data=form).status_code == 403  # no token
        token = _token(http.get("/login").text)
        assert http.post("/login", data={**form, "csrf": "0" * 64}).status_code == 403
        logged_in = http.post("/login", data={**form, "csrf": token})
        assert logged_in.status_code == 303, logged_in.text
        account = http.get("/account")
        assert account.status_code == 200
        csrf = _token(account.text)

        assert http.post("/account/keys").status_code == 403
        assert http.post("/account/keys", data={"csrf": "nope"}).status_code == 403
        assert http.post("/account/keys", headers={"X-CSRF-Token": token}).status_code == 403
        assert "trx_" not in http.get("/account").text  # nothing was made
        made = http.post("/account/keys", data={"csrf": csrf})
        assert made.status_code == 200
        assert re.search(r'id="new-key">trx_', made.text)
        assert http.post("/account/keys", headers={"X-CSRF-Token": csrf}).status_code == 200
        assert http.post("/logout").status_code == 403


def logged_in(http: httpx.Client, email: str, **headers: str) -> httpx.Response:
    token = _token(http.get("/login").text)
    answer = http.post("/login", data={"email": email, "password": PASSWORD, "csrf": token},
                       headers=headers)  # fmt: skip
    assert answer.status_code == 303, answer.text
    return answer


def test_a_session_and_an_api_token_are_not_interchangeable(site: Site) -> None:
    make_account(site, "cy@example.com")
    with httpx.Client(base_url=site.url, timeout=30) as http:
        api = http.post("/api/v1/auth/token",
                        data={"username": "cy@example.com", "password": PASSWORD})  # fmt: skip
        access_token = api.json()["access_token"]
        http.cookies.set("trax_session", access_token)
        assert http.get("/library").headers["location"] == "/login"
        http.cookies.clear()
        logged_in(http, "cy@example.com")
        session = http.cookies["trax_session"]
        assert http.get("/library").status_code == 200
        bearer = {"Authorization": f"Bearer {session}"}
        assert http.get("/api/v1/users/me", headers=bearer).status_code == 401
        http.cookies.set("trax_session", session[:-4] + "AAAA")  # a forged signature
        assert http.get("/library").headers["location"] == "/login"


def test_the_session_cookie_is_secure_behind_https(site: Site) -> None:
    make_account(site, "di@example.com")
    behind_proxy = site.settings.model_copy(update={"trusted_proxies": "127.0.0.1"})
    with serve(behind_proxy) as url, httpx.Client(base_url=url, timeout=30) as http:
        plain = logged_in(http, "di@example.com").headers["set-cookie"]
        assert "HttpOnly" in plain
        assert "SameSite=lax" in plain
        assert "Secure" not in plain
        http.cookies.clear()
        https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
        secure = logged_in(http, "di@example.com", **https).headers["set-cookie"]
        assert "Secure" in secure
        # httpx, like a browser, keeps a Secure cookie off plain http: no session here.
        assert http.get("/library").headers["location"] == "/login"
