"""Every mapped table, imported in one place for Alembic and metadata-wide operations."""

from trax.db import Base
from trax.jobs.models import Job, JobStatus
from trax.media.models import Media, StoredObject
from trax.projects.models import Project
from trax.renders.models import Render
from trax.search.models import SegmentHit
from trax.transcripts.models import Transcript, TranscriptVersion
from trax.users.models import ApiKey, User
from trax.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

__all__ = [
    "ApiKey",
    "Base",
    "Job",
    "JobStatus",
    "Media",
    "Project",
    "Render",
    "SegmentHit",
    "StoredObject",
    "Transcript",
    "TranscriptVersion",
    "User",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
]
