from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from trax.db import Base, IdMixin, JSONType


class Render(IdMixin, Base):
    """A transcript version's captions burned into its media, stored as an MP4.

    One per transcript version and recipe (the resolved style): the same request again reuses
    it. It goes with its transcript, and so with its media; its stored bytes are removed then.
    """

    __tablename__ = "renders"
    __table_args__ = (sa.UniqueConstraint("transcript_id", "version", "recipe_key"),)

    owner_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    transcript_id: Mapped[str] = mapped_column(
        sa.ForeignKey("transcripts.id", ondelete="CASCADE"), index=True
    )
    media_id: Mapped[str] = mapped_column(sa.ForeignKey("media.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(sa.Integer)
    #: The preset the style started from; ``options`` is the whole resolved style.
    style: Mapped[str] = mapped_column(sa.String(32))
    options: Mapped[dict[str, Any]] = mapped_column(JSONType)
    #: SHA-256 of the resolved style: what, besides the version, decides the picture.
    recipe_key: Mapped[str] = mapped_column(sa.String(64))
    storage_key: Mapped[str] = mapped_column(sa.String(1024), index=True)
    size_bytes: Mapped[int] = mapped_column(sa.BigInteger)
    duration: Mapped[float] = mapped_column(sa.Float)
    width: Mapped[int] = mapped_column(sa.Integer)
    height: Mapped[int] = mapped_column(sa.Integer)
    wall_seconds: Mapped[float | None] = mapped_column(sa.Float)
