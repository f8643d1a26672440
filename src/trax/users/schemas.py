from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class Registration(BaseModel):
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=320)
    password: str = Field(min_length=8, max_length=1024)


class UserView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    email: str
    is_admin: bool
    created_at: datetime


class TokenView(BaseModel):
    """An OAuth2 bearer token response."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int


class UserSummary(UserView):
    """A user as operators list them (``trax users list``)."""

    api_keys: int


class ApiKeyView(BaseModel):
    """An API key without its secret: the prefix it starts with identifies it to its owner."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    prefix: str
    email: str
    created_at: datetime
    last_used_at: datetime | None
