from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from trax.db import Base, UTCDateTime

#: Objects the migrations create beside this table that the models do not describe (they are
#: dialect-specific, see ADR 0015): the FTS5 tables and their shadow tables on SQLite, the
#: ``tsv`` column and its GIN index on PostgreSQL. Schema comparisons skip them.
DIALECT_ONLY = ("segment_fts", "tsv", "ix_segment_hits_tsv")


def described_by_models(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's ``include_name`` hook: False for the dialect-only search objects."""
    if name is None:
        return True
    if type_ == "table":
        return not name.startswith("segment_fts")  # segment_fts, segment_fts_en, shadow tables
    return name not in DIALECT_ONLY


class SegmentHit(Base):
    """One segment of a transcript's current (newest) version, as the search index sees it.

    Rows are replaced whenever a new version is stored, in the same transaction, and go with
    their transcript (``ondelete=CASCADE``). The full-text index over ``text`` is kept beside
    this table: FTS5 tables on SQLite, a generated ``tsvector`` column on PostgreSQL.
    """

    __tablename__ = "segment_hits"
    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    transcript_id: Mapped[str] = mapped_column(
        sa.ForeignKey("transcripts.id", ondelete="CASCADE"), index=True
    )
    media_id: Mapped[str] = mapped_column(sa.String(36))
    owner_id: Mapped[str | None] = mapped_column(sa.String(36))
    version: Mapped[int] = mapped_column(sa.Integer)
    stage: Mapped[str] = mapped_column(sa.String(32))
    segment: Mapped[int] = mapped_column(sa.Integer)
    start: Mapped[float] = mapped_column(sa.Float)
    end: Mapped[float] = mapped_column(sa.Float)
    speaker: Mapped[str | None] = mapped_column(sa.String(64))
    language: Mapped[str] = mapped_column(sa.String(16))
    #: ``english`` (stemmed) or ``simple`` (case and accents folded only); see ADR 0015.
    analyzer: Mapped[str] = mapped_column(sa.String(16))
    text: Mapped[str] = mapped_column(sa.Text)
    #: When the transcript was made (the date-range filter).
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
