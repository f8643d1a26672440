"""Cursor pagination for lists: newest first, keyed on ``(created_at, id)``.

A cursor is an opaque token naming the last row of the previous page, so pages stay stable while
rows are added (offsets would skip or repeat rows).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.orm import InstrumentedAttribute

from trax import errors

INVALID_CURSOR = "the cursor {cursor!r} is not one this API gave out"
DEFAULT_LIMIT = 50
MAX_LIMIT = 200

T = TypeVar("T")
Q = TypeVar("Q", bound="sa.Select[*tuple[Any, ...]]")


class Page(BaseModel, Generic[T]):
    """One page of a list; pass ``next_cursor`` as ``cursor`` to get the next (null: the end)."""

    items: list[T]
    next_cursor: str | None


@dataclass(frozen=True)
class Cursor:
    created_at: datetime
    id: str

    def encode(self) -> str:
        raw = json.dumps([self.created_at.isoformat(), self.id]).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            padded = token + "=" * (-len(token) % 4)
            when, ident = json.loads(base64.urlsafe_b64decode(padded))
            created = datetime.fromisoformat(when)
        except (ValueError, TypeError, binascii.Error) as exc:
            raise errors.InvalidOptionError("cursor", INVALID_CURSOR.format(cursor=token)) from exc
        if created.tzinfo is None:  # we only ever issue UTC times; a naive one is forged
            raise errors.InvalidOptionError("cursor", INVALID_CURSOR.format(cursor=token))
        return cls(created, str(ident))


@dataclass(frozen=True)
class PageRequest:
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None


def keyset(
    stmt: Q,
    created_at: InstrumentedAttribute[datetime],
    ident: InstrumentedAttribute[str],
    page: PageRequest,
) -> Q:
    """``stmt`` ordered newest first, after the page's cursor, one row more than the limit."""
    stmt = stmt.order_by(created_at.desc(), ident.desc()).limit(page.limit + 1)
    if page.cursor is not None:
        after = Cursor.decode(page.cursor)
        stmt = stmt.where(
            sa.or_(
                created_at < after.created_at,
                sa.and_(created_at == after.created_at, ident < after.id),
            )
        )
    return stmt


R = TypeVar("R")


def _created_and_id(row: Any) -> tuple[datetime, str]:
    return row.created_at, row.id


def paged(
    rows: Sequence[R],
    page: PageRequest,
    key: Callable[[R], tuple[datetime, str]] = _created_and_id,
) -> tuple[list[R], str | None]:
    """The rows of this page and the cursor of the next one (None at the end). ``key`` gives a
    row's ``(created_at, id)``, the columns :func:`keyset` ordered by (default: its own)."""
    items = list(rows[: page.limit])
    if len(rows) <= page.limit:
        return items, None
    created, ident = key(items[-1])
    return items, Cursor(created, ident).encode()
