"""Browser sessions and CSRF tokens for the web pages (ADR 0021).

A session is a cookie holding an HS256 JWT signed with the API's key (audience ``trax-web``, so
an API access token is not a session and a session is not an access token), with the user id, a
random session id and an expiry. The cookie is HttpOnly, SameSite=Lax, and Secure when the
request came over HTTPS.

Every state-changing request carries a CSRF token, checked on the server: the HMAC of the
session id under the signing key, sent as the ``csrf`` form field or the ``X-CSRF-Token`` header
(htmx and the upload XHR send the header). Before logging in, the login form's token is the HMAC
of a random nonce kept in its own short-lived cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

import jwt
from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from trax import errors
from trax.config import Settings
from trax.db import utcnow
from trax.deps import Rt
from trax.users import service as users
from trax.users.auth import ALGORITHMS, ISSUER, signing_key
from trax.users.models import User

SESSION_COOKIE = "trax_session"
LOGIN_COOKIE = "trax_login"
AUDIENCE = "trax-web"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
#: How long a browser session lasts without logging in again.
SESSION_HOURS = 12
LOGIN_NONCE_SECONDS = 3600
CSRF_REFUSED = "the form is missing its CSRF token or it does not match the session; reload it"


class LoginRequired(errors.TraxError):
    """A page was asked for without a valid session: the browser is sent to the login page."""

    code = "login_required"
    http_status = 401


class CsrfError(errors.ForbiddenError):
    code = "csrf_refused"


@dataclass(frozen=True)
class WebSession:
    """The signed-in user and the token their forms must carry."""

    user: User
    session_id: str
    csrf: str


def _mac(settings: Settings, purpose: str, value: str) -> str:
    key = signing_key(settings).encode()
    return hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def start_session(settings: Settings, request: Request, response: Response, user: User) -> None:
    """Set the session cookie for ``user`` (a new session id: no fixation)."""
    now = utcnow()
    claims = {"sub": user.id, "sid": secrets.token_urlsafe(16), "aud": AUDIENCE, "iss": ISSUER,
              "iat": now, "exp": now + timedelta(hours=SESSION_HOURS)}  # fmt: skip
    token = jwt.encode(claims, signing_key(settings), algorithm=ALGORITHMS[0])
    response.set_cookie(SESSION_COOKIE, token, max_age=SESSION_HOURS * 3600, httponly=True,
                        samesite="lax", secure=_secure(request), path="/")  # fmt: skip
    response.delete_cookie(LOGIN_COOKIE, path="/")


def end_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def _session_claims(settings: Settings, request: Request) -> dict[str, str] | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        claims = jwt.decode(token, signing_key(settings), algorithms=ALGORITHMS,
                            audience=AUDIENCE, issuer=ISSUER,
                            options={"require": ["exp", "sub", "sid", "aud", "iss"]})  # fmt: skip
    except jwt.PyJWTError:
        return None
    return {"sub": str(claims["sub"]), "sid": str(claims["sid"])}


async def read_session(
    session: AsyncSession, settings: Settings, request: Request
) -> WebSession | None:
    """The request's session, if its cookie is valid and its user still exists."""
    claims = _session_claims(settings, request)
    if claims is None:
        return None
    user = await users.get(session, claims["sub"])
    if user is None:
        return None
    return WebSession(user, claims["sid"], _mac(settings, "csrf", claims["sid"]))


async def optional_session(request: Request, rt: Rt) -> WebSession | None:
    async with rt.db.session() as s:
        return await read_session(s, rt.settings, request)


async def required_session(request: Request, rt: Rt) -> WebSession:
    found = await optional_session(request, rt)
    if found is None:
        raise LoginRequired("sign in to see this page")
    return found


async def checked_session(request: Request, rt: Rt) -> WebSession:
    """The session of a state-changing request whose CSRF token matches it (403 otherwise).
    The token comes in the header, or else in the urlencoded form's ``csrf`` field."""
    web = await required_session(request, rt)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        "application/x-www-form-urlencoded"
    ):
        field = (await request.form()).get(CSRF_FIELD)
        sent = field if isinstance(field, str) else None
    if not sent or not hmac.compare_digest(sent, web.csrf):
        raise CsrfError(CSRF_REFUSED)
    return web


def login_nonce(request: Request) -> tuple[str, bool]:
    """The login form's nonce (from its cookie) and whether it is new (the cookie to set)."""
    nonce = request.cookies.get(LOGIN_COOKIE)
    return (nonce, False) if nonce else (secrets.token_urlsafe(16), True)


def login_token(settings: Settings, nonce: str) -> str:
    """The login form's CSRF token: bound to the nonce in the browser's cookie."""
    return _mac(settings, "login", nonce)


def set_login_nonce(request: Request, response: Response, nonce: str) -> None:
    response.set_cookie(LOGIN_COOKIE, nonce, max_age=LOGIN_NONCE_SECONDS, httponly=True,
                        samesite="lax", secure=_secure(request), path="/")  # fmt: skip


def check_login_token(settings: Settings, request: Request, sent: str | None) -> None:
    nonce = request.cookies.get(LOGIN_COOKIE)
    expected = _mac(settings, "login", nonce) if nonce else ""
    if not nonce or not sent or not hmac.compare_digest(sent, expected):
        raise CsrfError(CSRF_REFUSED)


#: The signed-in user of a page (else the browser goes to /login).
Session = Annotated[WebSession, Depends(required_session)]
#: The signed-in user of a state-changing request with a matching CSRF token (else 403).
CheckedSession = Annotated[WebSession, Depends(checked_session)]
