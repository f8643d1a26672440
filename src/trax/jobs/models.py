from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from trax.db import Base, IdMixin, JSONType, UTCDateTime, utcnow


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class SourceKind(StrEnum):
    """What ``Job.source`` names. Only an operator's job reads a path on the worker's disk."""

    PATH = "path"  # a local file given to the CLI by the operator
    MEDIA = "media"  # stored media (uploads, URL ingest): ``media_id``; ``source`` is a label
    URL = "url"  # a webhook delivery's target


#: Jobs that count as unfinished: at most one per ``dedupe_key`` among them.
UNFINISHED = ("queued", "running")


class Job(IdMixin, Base):
    """A unit of work and everything known about its progress and outcome."""

    __tablename__ = "jobs"
    __table_args__ = (
        sa.Index(
            "uq_jobs_unfinished_dedupe_key",
            "dedupe_key",
            unique=True,
            sqlite_where=sa.text("status IN ('queued', 'running')"),
            postgresql_where=sa.text("status IN ('queued', 'running')"),
        ),
    )

    kind: Mapped[str] = mapped_column(sa.String(32))
    source_kind: Mapped[SourceKind] = mapped_column(
        sa.Enum(
            SourceKind, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]
        ),
        default=SourceKind.PATH,
    )
    #: Identical requests (kind, input, owner, options) share one unfinished job.
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(64))
    owner_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[JobStatus] = mapped_column(
        sa.Enum(
            JobStatus, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]
        ),
        default=JobStatus.QUEUED,
        index=True,
    )
    batch_id: Mapped[str | None] = mapped_column(sa.String(36), index=True)
    source: Mapped[str] = mapped_column(sa.String(2048))
    options: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    media_id: Mapped[str | None] = mapped_column(sa.ForeignKey("media.id", ondelete="SET NULL"))
    transcript_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("transcripts.id", ondelete="SET NULL")
    )
    #: The transcript version the job made or reused (its last stage's), or rendered.
    transcript_version: Mapped[int | None] = mapped_column(sa.Integer)
    #: The render a render job made or reused.
    render_id: Mapped[str | None] = mapped_column(sa.ForeignKey("renders.id", ondelete="SET NULL"))
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    progress: Mapped[float] = mapped_column(sa.Float, default=0.0)
    stage: Mapped[str | None] = mapped_column(sa.String(32))
    error_kind: Mapped[str | None] = mapped_column(sa.String(64))
    error_message: Mapped[str | None] = mapped_column(sa.Text)
    lease_owner: Mapped[str | None] = mapped_column(sa.String(128))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, index=True
    )
