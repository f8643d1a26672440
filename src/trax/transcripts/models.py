from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from trax.db import Base, IdMixin, JSONType, UTCDateTime, utcnow
from trax.media.models import Media


class Transcript(IdMixin, Base):
    """The transcript of one media file made with one recipe (model + options).

    Its versions are the pipeline stages (basic, enhanced, ...). The same media and recipe never
    get a second transcript: that pair is unique, which makes re-runs idempotent.
    """

    __tablename__ = "transcripts"
    __table_args__ = (sa.UniqueConstraint("media_id", "recipe_key"),)

    media_id: Mapped[str] = mapped_column(sa.ForeignKey("media.id", ondelete="CASCADE"), index=True)
    recipe_key: Mapped[str] = mapped_column(sa.String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    media: Mapped[Media] = relationship(lazy="raise")


class TranscriptVersion(IdMixin, Base):
    """One stage's output: the whole transcript document as JSON, with its provenance."""

    __tablename__ = "transcript_versions"
    __table_args__ = (sa.UniqueConstraint("transcript_id", "version"),)

    transcript_id: Mapped[str] = mapped_column(
        sa.ForeignKey("transcripts.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(sa.Integer)
    stage: Mapped[str] = mapped_column(sa.String(32))
    model: Mapped[str] = mapped_column(sa.String(512))
    language: Mapped[str] = mapped_column(sa.String(16))
    duration: Mapped[float] = mapped_column(sa.Float)
    text: Mapped[str] = mapped_column(sa.Text)
    document: Mapped[dict[str, Any]] = mapped_column(JSONType)
