"""initial schema

Revision ID: 7b3c9ba6ab8e
Revises:
Create Date: 2026-11-23 15:27:31.343803
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import trax.db

revision: str = "7b3c9ba6ab8e"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "media",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=1024), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.Column("format_name", sa.String(length=64), nullable=False),
        sa.Column("audio_codec", sa.String(length=64), nullable=False),
        sa.Column("has_video", sa.Boolean(), nullable=False),
        sa.Column("storage_key", sa.String(length=1024), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", trax.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media")),
        sa.UniqueConstraint("sha256", name=op.f("uq_media_sha256")),
    )
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_media_created_at"), ["created_at"], unique=False)

    op.create_table(
        "transcripts",
        sa.Column("media_id", sa.String(length=36), nullable=False),
        sa.Column("recipe_key", sa.String(length=64), nullable=False),
        sa.Column("updated_at", trax.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", trax.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"],
            ["media.id"],
            name=op.f("fk_transcripts_media_id_media"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transcripts")),
        sa.UniqueConstraint(
            "media_id", "recipe_key", name=op.f("uq_transcripts_media_id_recipe_key")
        ),
    )
    with op.batch_alter_table("transcripts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_transcripts_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_transcripts_media_id"), ["media_id"], unique=False)

    op.create_table(
        "jobs",
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "running",
                "succeeded",
                "failed",
                "cancelled",
                name="jobstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("batch_id", sa.String(length=36), nullable=True),
        sa.Column("source", sa.String(length=2048), nullable=False),
        sa.Column("options", trax.db.JSONType, nullable=False),
        sa.Column("media_id", sa.String(length=36), nullable=True),
        sa.Column("transcript_id", sa.String(length=36), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=True),
        sa.Column("error_kind", sa.String(length=64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("lease_owner", sa.String(length=128), nullable=True),
        sa.Column("heartbeat_at", trax.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("started_at", trax.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", trax.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", trax.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"], ["media.id"], name=op.f("fk_jobs_media_id_media"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["transcript_id"],
            ["transcripts.id"],
            name=op.f("fk_jobs_transcript_id_transcripts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_jobs_batch_id"), ["batch_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_jobs_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_jobs_status"), ["status"], unique=False)

    op.create_table(
        "transcript_versions",
        sa.Column("transcript_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=512), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("duration", sa.Float(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("document", trax.db.JSONType, nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", trax.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["transcript_id"],
            ["transcripts.id"],
            name=op.f("fk_transcript_versions_transcript_id_transcripts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transcript_versions")),
        sa.UniqueConstraint(
            "transcript_id", "version", name=op.f("uq_transcript_versions_transcript_id_version")
        ),
    )
    with op.batch_alter_table("transcript_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transcript_versions_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_transcript_versions_transcript_id"), ["transcript_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("transcript_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transcript_versions_transcript_id"))
        batch_op.drop_index(batch_op.f("ix_transcript_versions_created_at"))

    op.drop_table("transcript_versions")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jobs_status"))
        batch_op.drop_index(batch_op.f("ix_jobs_created_at"))
        batch_op.drop_index(batch_op.f("ix_jobs_batch_id"))

    op.drop_table("jobs")
    with op.batch_alter_table("transcripts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transcripts_media_id"))
        batch_op.drop_index(batch_op.f("ix_transcripts_created_at"))

    op.drop_table("transcripts")
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_media_created_at"))

    op.drop_table("media")
