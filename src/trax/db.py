"""Database set-up: declarative base, portable column types, engine and unit of work.

Services take the session they are given and never commit; the edge (CLI command, request,
actor) opens a unit of work with :meth:`Database.session` which commits once or rolls back.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, QueryableAttribute, mapped_column
from sqlalchemy.pool import ConnectionPoolEntry

from trax import errors

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: JSON everywhere, JSONB on PostgreSQL.
JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class IdMixin:
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


async def resolve_id_prefix(
    session: AsyncSession, column: QueryableAttribute[str], ref: str, what: str
) -> str:
    """The one id in ``column`` that starts with ``ref`` (a full id or any unique prefix).

    Raises :class:`~trax.errors.NotFoundError` or, for an ambiguous prefix,
    :class:`~trax.errors.UsageError`; ``what`` names the kind of object in the message.
    """
    prefix = ref.strip()
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    stmt = sa.select(column).where(column.like(f"{escaped}%", escape="\\")).order_by(column)
    matches = list((await session.execute(stmt.limit(2))).scalars()) if prefix else []
    if not matches:
        raise errors.NotFoundError(errors.NO_SUCH_ID.format(what=what, ref=ref))
    if len(matches) > 1:
        raise errors.UsageError(errors.AMBIGUOUS_ID.format(what=what, ref=ref))
    return matches[0]


async def insert_once(
    session: AsyncSession,
    model: type[Base],
    values: dict[str, Any],
    conflict: Sequence[str],
    where: sa.ColumnElement[bool] | sa.TextClause | None = None,
) -> bool:
    """``INSERT … ON CONFLICT DO NOTHING`` on the unique index over ``conflict`` (partial when
    ``where`` is given): True when this call inserted the row. Two transactions inserting the
    same key at the same moment both succeed; one of them inserts. (SQLite and PostgreSQL share
    this syntax; a savepoint-and-retry would not work on SQLite's driver.)"""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(model)
        .values(**values)
        .on_conflict_do_nothing(index_elements=list(conflict), index_where=where)
    )
    result = await session.execute(stmt)
    return bool(getattr(result, "rowcount", 0) == 1)


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    # The timeout first: switching a new database to WAL takes a lock that another process
    # opening it at the same moment (two `trax serve` workers) may hold.
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


class Database:
    """An async engine and its session factory."""

    def __init__(self, url: str) -> None:
        self.url = sa.make_url(url)
        if self.is_sqlite and self.url.database:
            Path(self.url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        # A server connection can go stale (a restart, an idle timeout): ping it on checkout.
        # A SQLite file cannot, and the ping was one more round trip to aiosqlite's thread on
        # every unit of work.
        self.engine: AsyncEngine = create_async_engine(self.url, pool_pre_ping=not self.is_sqlite)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: commits on success, rolls back on error."""
        async with self._sessions() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    async def dispose(self) -> None:
        await self.engine.dispose()


def _alembic_config(connection: sa.Connection | None = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", "trax:migrations")
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _upgrade_sync(connection: sa.Connection) -> None:
    from alembic import command

    command.upgrade(_alembic_config(connection), "head")


async def upgrade(db: Database) -> None:
    """Run every pending migration (``trax db upgrade``)."""
    async with db.engine.begin() as conn:
        await conn.run_sync(_upgrade_sync)


async def revision(db: Database) -> str | None:
    """The schema revision the database is at (None for an empty database)."""
    async with db.engine.connect() as conn:
        try:
            result = await conn.execute(sa.text("SELECT version_num FROM alembic_version"))
        except sa.exc.DBAPIError:
            return None
        return result.scalar_one_or_none()
