"""One error tree. Each error knows its HTTP status and its CLI exit code.

Messages are built from the named constants below so that tests and clients can rely on them.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

# Named reasons for bad input (shown after the file name).
NOT_FOUND = "no such file or directory"
NOT_READABLE = "permission denied"
NOT_A_FILE = "not a regular file"
EMPTY_FILE = "file is empty"
NOT_MEDIA = "not a media file PyAV can read"
NO_AUDIO = "contains no audio stream"
CORRUPT = "corrupt or truncated media"
TOO_LARGE = "file is {size} bytes, over the {limit}-byte limit"
TOO_LONG = "media lasts {seconds:.0f} s, over the {limit:.0f} s limit"
# Looking objects up by id or unique id prefix.
NO_SUCH_ID = "no {what} with id {ref!r}"
AMBIGUOUS_ID = "id {ref!r} matches more than one {what}; give more characters"


class TraxError(Exception):
    """Base of every error Trax raises on purpose."""

    code: ClassVar[str] = "trax_error"
    http_status: ClassVar[int] = 500
    exit_code: ClassVar[int] = 1
    #: A permanent error will fail the same way on retry; a transient one may not.
    permanent: ClassVar[bool] = True

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(TraxError):
    code = "usage_error"
    http_status = 422
    exit_code = 2


class NotFoundError(TraxError):
    code = "not_found"
    http_status = 404


class AuthError(TraxError):
    """Missing or invalid credentials."""

    code = "unauthorized"
    http_status = 401


class ConflictError(TraxError):
    """The request contradicts the current state (e.g. cancelling a finished job)."""

    code = "conflict"
    http_status = 409


class ConfigError(TraxError):
    code = "config_error"
    exit_code = 2


class MediaError(TraxError):
    """The input cannot be used as media. Names the file and the reason."""

    code = "bad_media"
    http_status = 415

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


class MediaTooLargeError(MediaError):
    code = "media_too_large"
    http_status = 413


class ModelError(TraxError):
    """A model cannot be found, assembled or loaded."""

    code = "model_unavailable"
    http_status = 422
    exit_code = 2


class TranscriptionError(TraxError):
    """Inference failed for a reason that is not the input's fault."""

    code = "transcription_failed"
    permanent = False


class JobAborted(TraxError):
    """A running job stopped on purpose: cancelled, lease lost, or over its time limit."""

    code = "aborted"
    http_status = 409


class TimeLimitExceeded(JobAborted):
    code = "time_limit"
    http_status = 500


def http_status_for(code: str) -> int:
    """The HTTP status of the error with this ``code`` (as recorded on a failed job)."""
    pending: list[type[TraxError]] = [TraxError]
    while pending:
        cls = pending.pop()
        if cls.code == code:
            return cls.http_status
        pending.extend(cls.__subclasses__())
    return 500
