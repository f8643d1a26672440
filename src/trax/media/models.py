from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from trax.db import Base, IdMixin


class Media(IdMixin, Base):
    """One stored media file, identified by the SHA-256 of its bytes."""

    __tablename__ = "media"

    sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    filename: Mapped[str] = mapped_column(sa.String(1024))
    size_bytes: Mapped[int] = mapped_column(sa.BigInteger)
    duration: Mapped[float | None] = mapped_column(sa.Float)
    format_name: Mapped[str] = mapped_column(sa.String(64))
    audio_codec: Mapped[str] = mapped_column(sa.String(64))
    has_video: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    storage_key: Mapped[str] = mapped_column(sa.String(1024))
