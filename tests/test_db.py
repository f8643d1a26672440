"""Migrations on SQLite and PostgreSQL: they build the schema the models describe."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from trax import db as dbmod
from trax.config import Settings
from trax.errors import ConfigError
from trax.migrations import HEAD
from trax.models import Base
from trax.runtime import open_runtime
from trax.search.models import described_by_models

pytestmark = pytest.mark.anyio
#: As the migrations' env.py compares: the search index's dialect-only objects are not models.
COMPARE_OPTIONS = {"compare_type": True, "include_name": described_by_models}


def test_head_constant_matches_the_revision_files() -> None:
    script = ScriptDirectory.from_config(dbmod._alembic_config())
    assert script.get_heads() == [HEAD]


async def test_migrations_build_exactly_the_models_schema(database_url: str) -> None:
    database = dbmod.Database(database_url)
    try:
        assert await dbmod.revision(database) is None
        await dbmod.upgrade(database)
        assert await dbmod.revision(database) == HEAD
        async with database.engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(
                    MigrationContext.configure(c, opts=COMPARE_OPTIONS), Base.metadata
                )
            )
            assert diff == []
            if not database.is_sqlite:
                kind = await conn.scalar(
                    sa.text(
                        "SELECT data_type FROM information_schema.columns "
                        "WHERE table_name = 'transcript_versions' AND column_name = 'document'"
                    )
                )
                assert kind == "jsonb"
    finally:
        await database.dispose()


async def test_a_configured_database_is_migrated_only_on_purpose(
    database_url: str, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, database_url=database_url)
    with pytest.raises(ConfigError, match="run `trax db upgrade`"):
        async with open_runtime(settings):
            pass
    async with open_runtime(settings, migrate=True):
        pass
    async with open_runtime(settings) as rt:
        assert await dbmod.revision(rt.db) == HEAD


async def test_embedded_default_is_created_and_migrated_on_first_use(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "fresh" / "dir")
    async with open_runtime(settings) as rt:
        assert await dbmod.revision(rt.db) == HEAD
    assert (tmp_path / "fresh" / "dir" / "trax.db").is_file()
