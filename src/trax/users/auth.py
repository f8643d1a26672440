"""Who is calling: JWT access tokens for people, API keys for machines, login rate limits.

Tokens are HS256 JWTs with ``sub``, ``aud``, ``iss``, ``iat`` and ``exp``, decoded with an explicit
algorithm list (``alg: none`` and algorithm confusion are refused). The signing key is
``TRAX_JWT_SECRET`` or, by default, a random key generated once into ``<data_dir>/jwt-secret``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

import jwt
from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from trax import errors
from trax.config import Settings
from trax.db import Database, utcnow
from trax.ratelimit import RateLimiter
from trax.users import service as users
from trax.users.models import User

ALGORITHMS = ["HS256"]
AUDIENCE = "trax-api"
ISSUER = "trax"
INVALID_TOKEN = "invalid or expired access token"
NOT_AUTHENTICATED = "authentication required: send 'Authorization: Bearer <token or API key>'"
TOO_MANY_LOGINS = "too many login attempts; try again in {seconds} s"
TOO_MANY_REGISTRATIONS = "too many registrations from this address; try again in {seconds} s"
#: How long a process trusts that a user (or an API key) it looked up still exists.
CALLER_TTL_SECONDS = 2.0
#: Users and keys remembered per process at most.
CALLER_CACHE_SIZE = 10_000


@dataclass(frozen=True)
class AccessToken:
    token: str
    expires_in: int


@cache
def signing_key(settings: Settings) -> str:
    """The JWT key: the configured one, or one generated once per data directory.

    The file appears whole or not at all (written aside, then hard-linked into place), so
    server processes starting together never read a half-written key, and all use the first.
    """
    if settings.jwt_secret is not None:
        return settings.jwt_secret.get_secret_value()
    path: Path = settings.data_dir / "jwt-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, aside = tempfile.mkstemp(dir=path.parent, prefix=".jwt-secret-")
        try:
            with os.fdopen(fd, "w") as out:  # mkstemp's file is mode 0600
                out.write(secrets.token_urlsafe(48))
            with contextlib.suppress(FileExistsError):
                os.link(aside, path)
        finally:
            os.unlink(aside)
    return path.read_text().strip()


def issue_token(settings: Settings, user: User) -> AccessToken:
    now = utcnow()
    lifetime = timedelta(minutes=settings.access_token_minutes)
    claims = {"sub": user.id, "aud": AUDIENCE, "iss": ISSUER, "iat": now, "exp": now + lifetime}
    token = jwt.encode(claims, signing_key(settings), algorithm=ALGORITHMS[0])
    return AccessToken(token=token, expires_in=int(lifetime.total_seconds()))


def token_subject(settings: Settings, token: str) -> str:
    """The user id in a valid token; :class:`~trax.errors.AuthError` otherwise."""
    try:
        claims = jwt.decode(
            token,
            signing_key(settings),
            algorithms=ALGORITHMS,
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "aud", "iss"]},
        )
    except jwt.PyJWTError as exc:
        raise errors.AuthError(INVALID_TOKEN) from exc
    return str(claims["sub"])


async def authenticate(session: AsyncSession, settings: Settings, credential: str) -> User:
    """The user behind an API key (``trx_…``) or an access token."""
    if not credential:
        raise errors.AuthError(NOT_AUTHENTICATED)
    if credential.startswith(users.KEY_PREFIX):
        return await users.authenticate_key(session, credential)
    user = await users.get(session, token_subject(settings, credential))
    if user is None:
        raise errors.AuthError(INVALID_TOKEN)
    return user


@dataclass(frozen=True)
class Caller:
    """The authenticated user as a request sees it: a snapshot of the row, not the row."""

    id: str
    email: str
    is_admin: bool
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> Caller:
        return cls(id=user.id, email=user.email, is_admin=user.is_admin, created_at=user.created_at)


class Callers:
    """Who a credential belongs to, remembered by this process for :data:`CALLER_TTL_SECONDS`.

    An access token's signature, audience and expiry are checked on every request (cheap); the
    database is asked whether its user still exists, and an API key whose key still exists, at
    most once per TTL per user or key. So a revoked key or a deleted user is refused within
    the TTL on every server process, and a busy client costs one lookup per TTL instead of a
    session and a query per request.
    """

    def __init__(self, ttl: float = CALLER_TTL_SECONDS, size: int = CALLER_CACHE_SIZE) -> None:
        self.ttl, self.size = ttl, size
        self._known: dict[str, tuple[float, Caller]] = {}

    def _get(self, key: str) -> Caller | None:
        found = self._known.get(key)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def _put(self, key: str, caller: Caller) -> Caller:
        if len(self._known) >= self.size:  # drop the oldest entries (dicts keep insertion order)
            for old in list(self._known)[: self.size // 4 or 1]:
                del self._known[old]
        self._known.pop(key, None)
        self._known[key] = (time.monotonic() + self.ttl, caller)
        return caller

    def forget_user(self, user_id: str) -> None:
        """Drop what this process remembers of the user (their token and every key): after a
        revocation made here, the next request asks the database."""
        for key in [k for k, (_, caller) in self._known.items() if caller.id == user_id]:
            del self._known[key]

    async def authenticate(self, db: Database, settings: Settings, credential: str) -> Caller:
        """The caller behind an API key or an access token (see :func:`authenticate`)."""
        if not credential:
            raise errors.AuthError(NOT_AUTHENTICATED)
        if credential.startswith(users.KEY_PREFIX):
            key = "key:" + users.key_digest(credential)
        else:
            key = "user:" + token_subject(settings, credential)
        if (known := self._get(key)) is not None:
            return known
        async with db.session() as s:
            user = await authenticate(s, settings, credential)
            return self._put(key, Caller.of(user))


class LoginLimiter:
    """Counts logins per client address and email, logins per client address and registrations
    per client address, each in a moving window (in Redis when a broker URL is set, so every API
    host shares the count; in process otherwise)."""

    def __init__(self, settings: Settings) -> None:
        self._per_address = RateLimiter(
            settings, settings.login_address_rate_limit, "login-address", TOO_MANY_LOGINS
        )
        self._per_email = RateLimiter(settings, settings.login_rate_limit, "login", TOO_MANY_LOGINS)
        self._registrations = RateLimiter(
            settings, settings.registration_rate_limit, "register", TOO_MANY_REGISTRATIONS
        )

    def hit(self, client: str, email: str) -> None:
        """Count a login attempt; :class:`~trax.errors.RateLimitedError` when over a limit."""
        self._per_address.hit(client)
        self._per_email.hit(client, email.strip().lower())

    def hit_registration(self, client: str) -> None:
        """Count a registration; :class:`~trax.errors.RateLimitedError` when over the limit."""
        self._registrations.hit(client)


def client_address(request: Request) -> str:
    """The peer's address: a trusted proxy's forwarded address is already in its place (see
    ``TRAX_TRUSTED_PROXIES``); ``X-Forwarded-For`` from anyone else is ignored."""
    return request.client.host if request.client else "unknown"
