"""``/api/v1/auth`` (registration, login) and ``/api/v1/users/me``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi.security import OAuth2PasswordRequestForm

from trax import errors
from trax.deps import CurrentUser, Rt
from trax.users import service as users
from trax.users.auth import LoginLimiter, client_address, issue_token
from trax.users.schemas import Registration, TokenView, UserView

router = APIRouter(prefix="/api/v1", tags=["accounts"])
REGISTRATION_CLOSED = "registration is closed on this server; ask an operator for an account"


async def login_limiter(request: Request) -> LoginLimiter:
    limiter: LoginLimiter = request.app.state.login_limiter
    return limiter


@router.post("/auth/register", status_code=status.HTTP_201_CREATED)
async def register(
    request: Request,
    body: Registration,
    rt: Rt,
    limiter: Annotated[LoginLimiter, Depends(login_limiter)],
) -> UserView:
    """Create an account (when ``TRAX_ALLOW_REGISTRATION`` is on). Registrations are
    rate-limited per client address."""
    if not rt.settings.allow_registration:
        raise errors.ForbiddenError(REGISTRATION_CLOSED)
    limiter.hit_registration(client_address(request))
    async with rt.db.session() as s:
        user = await users.create_user(s, body.email, body.password)
        return UserView.model_validate(user)


@router.post("/auth/token")
async def login(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    rt: Rt,
    limiter: Annotated[LoginLimiter, Depends(login_limiter)],
) -> TokenView:
    """OAuth2 password login (form fields ``username`` = email, ``password``): a short-lived
    access token. Attempts are rate-limited per client address and email, and per address."""
    limiter.hit(client_address(request), form.username)
    async with rt.db.session() as s:
        user = await users.login(s, form.username, form.password)
    token = issue_token(rt.settings, user)
    return TokenView(access_token=token.token, expires_in=token.expires_in)


@router.get("/users/me")
async def me(user: CurrentUser) -> UserView:
    return UserView.model_validate(user)
