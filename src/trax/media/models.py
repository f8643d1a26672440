from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from trax.db import Base, IdMixin, UTCDateTime, utcnow


class Media(IdMixin, Base):
    """One stored media file of one owner, identified by the SHA-256 of its bytes.

    Media added with the CLI has no owner (the operator's library). Storage is content-addressed,
    so two owners' rows for the same bytes share one stored object.
    """

    __tablename__ = "media"
    __table_args__ = (sa.UniqueConstraint("owner_id", "sha256"),)

    owner_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    project_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="SET NULL"), index=True
    )
    sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    filename: Mapped[str] = mapped_column(sa.String(1024))
    size_bytes: Mapped[int] = mapped_column(sa.BigInteger)
    duration: Mapped[float | None] = mapped_column(sa.Float)
    format_name: Mapped[str] = mapped_column(sa.String(64))
    audio_codec: Mapped[str] = mapped_column(sa.String(64))
    has_video: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    storage_key: Mapped[str] = mapped_column(sa.String(1024))


class StoredObject(Base):
    """One stored object (content-addressed bytes) that media rows share.

    Recording media and deleting it both lock this row first, so the decision to remove the bytes
    (no media row uses them any more) and a new upload of the same bytes never interleave.
    """

    __tablename__ = "stored_objects"

    key: Mapped[str] = mapped_column(sa.String(1024), primary_key=True)
    referenced_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
