"""job sources, unfinished-job dedupe, stored objects

Revision ID: e7a2c4d9b1f0
Revises: d4b8f1a9e6c2
Create Date: 2026-11-29 23:40:00

Jobs say what their ``source`` names (an operator's path, stored media or a webhook URL), so a
job on uploaded media never reads a path on the worker's disk. Identical unfinished jobs share
one row (a partial unique index on ``dedupe_key``). Stored objects get a row that recording and
deleting media both lock, so deleting one owner's media never removes bytes another owner's
concurrent upload is recording.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import trax.db

revision: str = "e7a2c4d9b1f0"
down_revision: str | None = "d4b8f1a9e6c2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UNFINISHED = sa.text("status IN ('queued', 'running')")


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "source_kind",
                sa.Enum("path", "media", "url", name="sourcekind", native_enum=False, length=16),
                nullable=False,
                server_default="path",
            )
        )
        batch_op.add_column(sa.Column("dedupe_key", sa.String(length=64), nullable=True))
    op.execute("UPDATE jobs SET source_kind = 'url' WHERE kind = 'webhook'")
    op.execute(
        "UPDATE jobs SET source_kind = 'media' WHERE kind <> 'webhook' AND owner_id IS NOT NULL"
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.alter_column("source_kind", server_default=None)
        batch_op.create_index(
            "uq_jobs_unfinished_dedupe_key",
            ["dedupe_key"],
            unique=True,
            sqlite_where=_UNFINISHED,
            postgresql_where=_UNFINISHED,
        )
    op.create_table(
        "stored_objects",
        sa.Column("key", sa.String(length=1024), nullable=False),
        sa.Column("referenced_at", trax.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_stored_objects")),
    )
    op.execute(
        "INSERT INTO stored_objects (key, referenced_at) "
        "SELECT storage_key, MAX(created_at) FROM media GROUP BY storage_key"
    )


def downgrade() -> None:
    op.drop_table("stored_objects")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("uq_jobs_unfinished_dedupe_key")
        batch_op.drop_column("dedupe_key")
        batch_op.drop_column("source_kind")
