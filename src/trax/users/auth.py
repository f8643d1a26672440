"""Who is calling: JWT access tokens for people, API keys for machines, login rate limits.

Tokens are HS256 JWTs with ``sub``, ``aud``, ``iss``, ``iat`` and ``exp``, decoded with an explicit
algorithm list (``alg: none`` and algorithm confusion are refused). The signing key is
``TRAX_JWT_SECRET`` or, by default, a random key generated once into ``<data_dir>/jwt-secret``.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from pathlib import Path

import jwt
from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from trax import errors
from trax.config import Settings
from trax.db import utcnow
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


@dataclass(frozen=True)
class AccessToken:
    token: str
    expires_in: int


@cache
def signing_key(settings: Settings) -> str:
    """The JWT key: the configured one, or one generated once per data directory."""
    if settings.jwt_secret is not None:
        return settings.jwt_secret.get_secret_value()
    path: Path = settings.data_dir / "jwt-secret"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_urlsafe(48))
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
