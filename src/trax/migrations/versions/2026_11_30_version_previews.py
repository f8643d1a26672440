"""the list line's preview of each transcript version, stored

Revision ID: 8d3f1b6a2c47
Revises: 5a1f3e8c9d20
Create Date: 2026-11-30 07:00:00

Lists show the first 80 characters of a version's text. Reading them from ``text`` read the whole
text of every row (a 3-hour transcript holds about 150 KB of it), so a page of long transcripts
cost more than a page of short ones (ADR 0019). ``preview`` holds those 80 characters (79 and an
ellipsis when the text is longer); existing versions get theirs here. An index over the columns
of a list line lets SQLite answer lists without reading the rows.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8d3f1b6a2c47"
down_revision: str | None = "5a1f3e8c9d20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("transcript_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("preview", sa.String(length=80), nullable=True))
    op.execute(
        "UPDATE transcript_versions SET preview = CASE WHEN length(text) <= 80 THEN text "
        "ELSE substr(text, 1, 79) || '…' END"
    )
    # Lists read a version's summary columns from this index alone: on SQLite, reading
    # `preview` (the last column) from the table walks every overflow page of the document.
    op.create_index(
        "ix_transcript_versions_summary",
        "transcript_versions",
        ["transcript_id", "version", "stage", "model", "language", "duration", "preview"],
    )


def downgrade() -> None:
    op.drop_index("ix_transcript_versions_summary", table_name="transcript_versions")
    with op.batch_alter_table("transcript_versions", schema=None) as batch_op:
        batch_op.drop_column("preview")
