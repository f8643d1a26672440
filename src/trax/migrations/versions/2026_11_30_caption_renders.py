"""caption renders

Revision ID: 7b2e4f6a8c31
Revises: 3c9e5a7f2b14
Create Date: 2026-11-30 04:00:00

Captions burned into video: a ``renders`` row per transcript version and resolved style, with
where its MP4 is stored; a render job points at the render it made.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import trax.db

revision: str = "7b2e4f6a8c31"
down_revision: str | None = "3c9e5a7f2b14"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "renders",
        sa.Column("owner_id", sa.String(length=36), nullable=True),
        sa.Column("transcript_id", sa.String(length=36), nullable=False),
        sa.Column("media_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("style", sa.String(length=32), nullable=False),
        sa.Column("options", trax.db.JSONType, nullable=False),
        sa.Column("recipe_key", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=1024), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("duration", sa.Float(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("wall_seconds", sa.Float(), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", trax.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"], ["media.id"], name=op.f("fk_renders_media_id_media"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_renders_owner_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["transcript_id"],
            ["transcripts.id"],
            name=op.f("fk_renders_transcript_id_transcripts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_renders")),
        sa.UniqueConstraint(
            "transcript_id",
            "version",
            "recipe_key",
            name=op.f("uq_renders_transcript_id_version_recipe_key"),
        ),
    )
    with op.batch_alter_table("renders", schema=None) as batch_op:
        for column in ("created_at", "media_id", "owner_id", "storage_key", "transcript_id"):
            batch_op.create_index(batch_op.f(f"ix_renders_{column}"), [column], unique=False)
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("render_id", sa.String(length=36), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_jobs_render_id_renders"),
            "renders",
            ["render_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_jobs_render_id_renders"), type_="foreignkey")
        batch_op.drop_column("render_id")
    op.drop_table("renders")
