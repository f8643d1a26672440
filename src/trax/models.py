"""Every mapped table, imported in one place for Alembic and metadata-wide operations."""

from trax.db import Base
from trax.jobs.models import Job, JobStatus
from trax.media.models import Media
from trax.transcripts.models import Transcript, TranscriptVersion
from trax.users.models import ApiKey, User

__all__ = [
    "ApiKey",
    "Base",
    "Job",
    "JobStatus",
    "Media",
    "Transcript",
    "TranscriptVersion",
    "User",
]
