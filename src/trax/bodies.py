"""Bounded request bodies: an ASGI middleware that refuses a body over its limit with 413 before
anything buffers it.

Starlette and FastAPI read a JSON or form body whole before the endpoint runs; one unauthenticated
600 MB JSON request to ``/auth/register`` took the server to 3 GB. Here every request body may
hold ``TRAX_MAX_JSON_BYTES``: a declared ``Content-Length`` over it is refused at the first read,
before any of the body is received, and a chunked body is counted as it streams and refused the
moment it passes. Endpoints that stream a body to disk under limits of their own (media uploads)
raise the allowance of their request with :func:`allow_body` before they read it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trax import errors

BODY_TOO_LARGE = "the request body is over the {limit}-byte limit"
_SCOPE_KEY = "trax.body_allowance"


@dataclass
class _Allowance:
    limit: int
    received: int = 0
    refused: bool = False


def allow_body(request: Request, limit: int) -> None:
    """Let this request's body grow to ``limit`` bytes (call it before reading the body)."""
    allowance: _Allowance | None = request.scope.get(_SCOPE_KEY)
    if allowance is not None:
        allowance.limit = max(allowance.limit, limit)


class BodyLimit:
    """Refuses HTTP request bodies over ``max_bytes`` (unless an endpoint allowed more) with the
    response ``refuse`` renders, sent with ``Connection: close`` so the rest of the body is not
    read either."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, refuse: Callable[[errors.TraxError], Response]
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        allowance = _Allowance(self.max_bytes)
        scope[_SCOPE_KEY] = allowance
        declared = _content_length(scope)
        started = False

        async def bounded_receive() -> Message:
            if not allowance.refused and declared is not None and declared > allowance.limit:
                allowance.refused = True
            if allowance.refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                allowance.received += len(message.get("body", b""))
                if allowance.received > allowance.limit:
                    allowance.refused = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if allowance.refused:  # the app's answer to a body it never got: ours goes instead
                if not started:
                    started = True
                    await self._refusal(allowance.limit)(scope, receive, send)
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, bounded_receive, guarded_send)
        except Exception:
            if not (allowance.refused and not started):
                raise
        if allowance.refused and not started:
            await self._refusal(allowance.limit)(scope, receive, send)

    def _refusal(self, limit: int) -> Response:
        response = self.refuse(errors.RequestTooLargeError(BODY_TOO_LARGE.format(limit=limit)))
        response.headers["Connection"] = "close"
        return response


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None
