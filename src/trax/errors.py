"""One error tree. Each error knows its HTTP status and its CLI exit code.

Messages are built from the named constants below so that tests and clients can rely on them.
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any, ClassVar

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
MEDIA_DELETED = "{name}: the media was deleted"
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

    @property
    def details(self) -> Any:
        """Machine-readable details for the API's error body (None by default)."""
        return None


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """The one JSON error shape of the API: ``{"error": {"code", "message", "details"}}``."""
    return {"error": {"code": code, "message": message, "details": details}}


class UsageError(TraxError):
    code = "usage_error"
    http_status = 422
    exit_code = 2


class InvalidOptionError(UsageError, ValueError):
    """An option's value is refused; names the option (``field``) and why. The CLI and the API
    check options with the same code, so both refuse the same values."""

    code = "invalid_option"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason

    @property
    def details(self) -> Any:
        return [{"loc": [self.field], "message": self.reason}]


class NotFoundError(TraxError):
    code = "not_found"
    http_status = 404


class AuthError(TraxError):
    """Missing or invalid credentials."""

    code = "unauthorized"
    http_status = 401


class ForbiddenError(TraxError):
    """Authenticated, but not allowed (e.g. registration is closed)."""

    code = "forbidden"
    http_status = 403


class RateLimitedError(TraxError):
    """Too many attempts; try again after ``retry_after`` seconds."""

    code = "rate_limited"
    http_status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


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


class MediaDeletedError(TraxError):
    """The job's stored media was deleted: the job cannot run (never retried)."""

    code = "media_deleted"
    http_status = 409

    def __init__(self, name: str) -> None:
        super().__init__(MEDIA_DELETED.format(name=name))


class MediaTooLargeError(MediaError):
    code = "media_too_large"
    http_status = 413


class RequestTooLargeError(TraxError):
    """A request body (JSON, form fields) over its limit; media files have their own."""

    code = "request_too_large"
    http_status = 413


class ModelError(TraxError):
    """A model cannot be found, assembled or loaded."""

    code = "model_unavailable"
    http_status = 422
    exit_code = 2


class StorageFullError(TraxError):
    """The disk (or bucket) holding data is full: nothing was stored; try again later."""

    code = "storage_full"
    http_status = 507
    permanent = False


class UnavailableError(TraxError):
    """A service Trax depends on (the database, the broker) cannot be reached right now."""

    code = "service_unavailable"
    http_status = 503
    permanent = False


STORAGE_FULL = "no space left to store data ({detail})"
DATABASE_UNAVAILABLE = "the database cannot be reached: {detail}"


def from_environment(exc: BaseException) -> TraxError | None:
    """The Trax error for a failure of the machine rather than of Trax or its input: a full disk
    (507) or an unreachable database (503). None for anything else (a bug: 500)."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StorageFullError(STORAGE_FULL.format(detail=exc.strerror or exc))
    from sqlalchemy import exc as sa_exc  # the CLI's fast paths must not import SQLAlchemy

    if isinstance(exc, sa_exc.DBAPIError) and _is_connection_error(exc):
        detail = str(exc.orig or exc).splitlines()[0]
        return UnavailableError(DATABASE_UNAVAILABLE.format(detail=detail))
    if isinstance(exc, ConnectionError | TimeoutError) or (
        isinstance(exc, OSError) and exc.errno in (errno.ECONNREFUSED, errno.EHOSTUNREACH)
    ):
        return UnavailableError(DATABASE_UNAVAILABLE.format(detail=exc))
    return None


def _is_connection_error(exc: Any) -> bool:
    from sqlalchemy import exc as sa_exc

    if exc.connection_invalidated or isinstance(exc, sa_exc.InterfaceError):
        return True
    orig = exc.orig
    if isinstance(orig, OSError | ConnectionError):
        return True
    # PostgreSQL: SQLSTATE class 08 (connection exception), 57P (operator intervention: shutdown),
    # 3D000 (the database does not exist any more).
    state = str(getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None) or "")
    if state.startswith(("08", "57P")) or state == "3D000":
        return True
    # SQLite: the file cannot be opened.
    return isinstance(exc, sa_exc.OperationalError) and "unable to open" in str(orig)


class TranscriptionError(TraxError):
    """Inference failed for a reason that is not the input's fault."""

    code = "transcription_failed"
    permanent = False


class LlmError(TraxError):
    """The chat API failed after its retries (429, 5xx, timeouts): try again later."""

    code = "llm_unavailable"
    http_status = 503
    permanent = False


class LlmRefusedError(TraxError):
    """The chat API refused the request (bad key, unknown model, 4xx): retrying will not help."""

    code = "llm_refused"
    http_status = 502


class BudgetExceededError(TraxError):
    """A stage stopped before a paid call that would go over the configured budget."""

    code = "budget_exceeded"
    http_status = 402


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


class TransientJobError(Exception):
    """Raised to the broker after a job was put back in the queue: retry it with backoff."""


# Outbound HTTP (URL ingest, webhooks): shown after the URL.
UNSAFE_SCHEME = "only http and https URLs are allowed, not {scheme!r}"
UNSAFE_NO_HOST = "the URL has no host"
UNSAFE_USERINFO = "credentials in the URL are not allowed"
UNSAFE_ADDRESS = "{address} is not a public address ({kind}); refused before connecting"
UNSAFE_HOST = (
    "{host} resolves to {address}, not a public address ({kind}); refused before connecting"
)
UNRESOLVABLE = "cannot resolve host {host!r}: {detail}"
REMOTE_STATUS = "the server answered HTTP {status}"
REMOTE_TIMEOUT = "no answer within {seconds:g} s ({detail})"
REMOTE_UNREACHABLE = "cannot connect or read: {detail}"
TOO_MANY_REDIRECTS = "more than {limit} redirects"
DOWNLOAD_TOO_LARGE = "download is over the {limit}-byte limit"
DECLARED_TOO_LARGE = "Content-Length {size} is over the {limit}-byte limit"


class OutboundError(TraxError):
    """An outbound request (URL download, webhook delivery) failed. Names the URL and the reason.

    Permanent: the same request would fail the same way (e.g. HTTP 404)."""

    code = "outbound_failed"
    http_status = 502

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


class OutboundUnavailableError(OutboundError):
    """Timeout, refused connection, HTTP 5xx/408/429: may work later."""

    code = "outbound_unavailable"
    permanent = False


class UnsafeUrlError(OutboundError):
    """A URL Trax will not fetch: not http(s), has credentials, or points at a private,
    loopback, link-local or otherwise non-public address (server-side request forgery guard)."""

    code = "unsafe_url"
    http_status = 400
