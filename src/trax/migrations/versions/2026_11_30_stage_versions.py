"""transcript versions as pipeline stages

Revision ID: 3c9e5a7f2b14
Revises: e7a2c4d9b1f0
Create Date: 2026-11-30 03:40:00

Every transcript version says which version it was made from and with which recipe (a stage and
its options), so the same stage on the same parent is stored once; it keeps its provenance beside
the document, and what it cost (wall and CPU seconds, money). A job records the version it made.
Existing versions are first transcriptions: their provenance is copied out of their documents.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import trax.db

revision: str = "3c9e5a7f2b14"
down_revision: str | None = "e7a2c4d9b1f0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("transcript_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parent_version", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("recipe_key", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("provenance", trax.db.JSONType, nullable=True))
        batch_op.add_column(sa.Column("wall_seconds", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("cpu_seconds", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("cost_usd", sa.Float(), nullable=True))
        batch_op.create_index(
            "ix_transcript_versions_stage_recipe",
            ["transcript_id", "parent_version", "recipe_key"],
            unique=False,
        )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("transcript_version", sa.Integer(), nullable=True))
    versions = sa.table(
        "transcript_versions",
        sa.column("id", sa.String()),
        sa.column("document", trax.db.JSONType),
        sa.column("provenance", trax.db.JSONType),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(versions.c.id, versions.c.document)).all()
    for row_id, document in rows:
        provenance = (document or {}).get("provenance")
        bind.execute(versions.update().where(versions.c.id == row_id).values(provenance=provenance))


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("transcript_version")
    with op.batch_alter_table("transcript_versions", schema=None) as batch_op:
        batch_op.drop_index("ix_transcript_versions_stage_recipe")
        batch_op.drop_column("cost_usd")
        batch_op.drop_column("cpu_seconds")
        batch_op.drop_column("wall_seconds")
        batch_op.drop_column("provenance")
        batch_op.drop_column("recipe_key")
        batch_op.drop_column("parent_version")
