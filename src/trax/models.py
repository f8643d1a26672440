"""Every mapped table, imported in one place for Alembic and metadata-wide operations."""

from trax.db import Base
from trax.jobs.models import Job, JobStatus
from trax.media.models import Media
from trax.transcripts.models import Transcript, TranscriptVersion

__all__ = ["Base", "Job", "JobStatus", "Media", "Transcript", "TranscriptVersion"]
