"""Accounts: users with Argon2 password hashes, API keys stored as SHA-256 digests."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy.ext.asyncio import AsyncSession

from trax import errors
from trax.db import utcnow
from trax.users import repository
from trax.users.models import ApiKey, User
from trax.users.passwords import hash_password, verify_password
from trax.users.schemas import ApiKeyView, UserSummary

KEY_PREFIX = "trx_"
EMAIL_TAKEN = "a user with email {email!r} already exists"
NO_SUCH_USER = "no user with email {email!r}"
INVALID_KEY = "invalid or missing API key"
BAD_LOGIN = "wrong email or password"


def key_digest(key: str) -> str:
    """What is stored of an API key (and what identifies it)."""
    return hashlib.sha256(key.encode()).hexdigest()


async def create_user(
    session: AsyncSession, email: str, password: str | None = None, is_admin: bool = False
) -> User:
    email = email.strip().lower()
    if await repository.by_email(session, email) is not None:
        raise errors.ConflictError(EMAIL_TAKEN.format(email=email))
    hashed = await hash_password(password) if password else None
    user = User(email=email, password_hash=hashed, is_admin=is_admin)
    await repository.add(session, user)
    return user


async def get(session: AsyncSession, user_id: str) -> User | None:
    return await repository.get(session, user_id)


async def login(session: AsyncSession, email: str, password: str) -> User:
    """The user with this email and password; one vague error for every kind of mismatch."""
    user = await repository.by_email(session, email.strip().lower())
    if user is None or user.password_hash is None:
        await hash_password(
            password
        )  # same work as a real check: no timing hint that the user exists
        raise errors.AuthError(BAD_LOGIN)
    valid, new_hash = await verify_password(password, user.password_hash)
    if not valid:
        raise errors.AuthError(BAD_LOGIN)
    if new_hash is not None:
        user.password_hash = new_hash
    return user


async def create_api_key(session: AsyncSession, email: str) -> str:
    """A new API key for the user; the only time the plain key exists."""
    user = await repository.by_email(session, email.strip().lower())
    if user is None:
        raise errors.NotFoundError(NO_SUCH_USER.format(email=email))
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    await repository.add(session, ApiKey(user_id=user.id, key_hash=key_digest(key), prefix=key[:8]))
    return key


async def authenticate_key(session: AsyncSession, key: str) -> User:
    found = await repository.user_for_key_hash(session, key_digest(key)) if key else None
    if found is None:
        raise errors.AuthError(INVALID_KEY)
    user, api_key = found
    api_key.last_used_at = utcnow()
    return user


async def list_users(session: AsyncSession) -> list[UserSummary]:
    """Every user, oldest first, with the number of API keys each holds."""
    return [
        UserSummary(
            id=u.id, email=u.email, is_admin=u.is_admin, created_at=u.created_at, api_keys=count
        )
        for u, count in await repository.users_with_key_counts(session)
    ]


async def list_api_keys(session: AsyncSession, email: str | None = None) -> list[ApiKeyView]:
    """The API keys of the user with ``email`` (every user's when ``None``); never the keys."""
    user_id = None
    if email is not None:
        user = await repository.by_email(session, email.strip().lower())
        if user is None:
            raise errors.NotFoundError(NO_SUCH_USER.format(email=email))
        user_id = user.id
    rows = await repository.keys_with_emails(session, user_id=user_id)
    return [_key_view(key, owner) for key, owner in rows]


async def revoke_api_key(session: AsyncSession, ref: str) -> ApiKeyView:
    """Delete the API key with id ``ref`` (or a unique prefix of it); servers refuse it within
    seconds (they remember a key's owner for ``auth.CALLER_TTL_SECONDS``)."""
    key_id = await repository.resolve_key_id(session, ref)
    ((key, owner),) = await repository.keys_with_emails(session, key_id=key_id)
    await repository.delete_key(session, key_id)
    return _key_view(key, owner)


def _key_view(key: ApiKey, email: str) -> ApiKeyView:
    return ApiKeyView(
        id=key.id,
        prefix=key.prefix,
        email=email,
        created_at=key.created_at,
        last_used_at=key.last_used_at,
    )


KEY_NOT_FOUND = "you have no API key with id {key_id!r}"


async def revoke_own_api_key(session: AsyncSession, user: User, key_id: str) -> ApiKeyView:
    """Delete ``user``'s API key ``key_id`` (the full id); another user's key is not found."""
    rows = await repository.keys_with_emails(session, user_id=user.id, key_id=key_id)
    if not rows:
        raise errors.NotFoundError(KEY_NOT_FOUND.format(key_id=key_id[:40]))
    ((key, owner),) = rows
    await repository.delete_key(session, key.id)
    return _key_view(key, owner)
