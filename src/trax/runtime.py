"""The objects a unit of work needs, built from settings: database and storage.

The ML engine is not here: it is built by the tasks that run inference, so that reading the
library never imports it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio.to_thread

import trax.models  # noqa: F401  (every table mapped before the first unit of work)
from trax import db as dbmod
from trax import errors, workfiles
from trax.config import S3_BUCKET_REQUIRED, Settings
from trax.migrations import HEAD
from trax.storage import LocalStorage, S3Storage, Storage, s3_client

DB_NOT_MIGRATED = "the database at {url} is not at the newest schema: run `trax db upgrade`"
MIGRATION_LOCK = ".migrate.lock"


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    db: dbmod.Database
    storage: Storage


def build_storage(settings: Settings) -> Storage:
    """Local storage under the data directory, or the configured S3-compatible bucket."""
    if settings.storage_backend == "local":
        return LocalStorage(settings.data_dir)
    if settings.s3_bucket is None:  # Settings refuses this already; keep the type checker honest
        raise errors.ConfigError(S3_BUCKET_REQUIRED)
    secret = settings.s3_secret_access_key
    client = s3_client(
        endpoint_url=settings.s3_endpoint_url,
        region=settings.s3_region,
        access_key_id=settings.s3_access_key_id,
        secret_access_key=secret.get_secret_value() if secret else None,
    )
    return S3Storage(
        client,
        settings.s3_bucket,
        prefix=settings.s3_prefix,
        scratch_dir=settings.data_dir / workfiles.SCRATCH,
    )


async def _migrate_once(database: dbmod.Database, settings: Settings) -> None:
    """Migrate under a lock file in the data directory: processes started together on a new
    embedded database (a batch and ``trax jobs``) wait for the first one's migration instead of
    running it again, then find the schema current."""
    from filelock import FileLock

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(settings.data_dir / MIGRATION_LOCK, thread_local=False)
    await anyio.to_thread.run_sync(lock.acquire)
    try:
        if await dbmod.revision(database) != HEAD:
            await dbmod.upgrade(database)
    finally:
        lock.release()


@asynccontextmanager
async def open_runtime(
    settings: Settings, *, migrate: bool | None = None
) -> AsyncIterator[Runtime]:
    """Open the database (migrating the embedded default on first use) and the storage, and
    sweep the working files that killed processes left in the data directory.

    ``migrate`` defaults to True for the embedded SQLite database and False for a configured one,
    which must be migrated on purpose with ``trax db upgrade``.
    """
    database = dbmod.Database(settings.resolved_database_url)
    if migrate is None:
        migrate = settings.database_url is None
    try:
        if await dbmod.revision(database) != HEAD:
            if not migrate:
                url = database.url.render_as_string(hide_password=True)
                raise errors.ConfigError(DB_NOT_MIGRATED.format(url=url))
            await _migrate_once(database, settings)
        await anyio.to_thread.run_sync(workfiles.sweep, settings)
        yield Runtime(settings=settings, db=database, storage=build_storage(settings))
    finally:
        await database.dispose()
