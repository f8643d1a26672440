"""``/api/v1/ws``: a WebSocket that pushes the caller's job progress and completion.

The job rows are the truth, so the socket follows them: the process's change feed
(:mod:`trax.notifications.feed`) reads the jobs changed since its last look (every
``POLL_SECONDS``) and each socket gets one message per change of its user's jobs. This works the
same whichever host or worker process changed the row, with no pub/sub channel to keep in step.

Messages: ``{"type": "job.progress" | "job.succeeded" | "job.failed" | "job.cancelled",
"job": {…the job as GET /api/v1/jobs/{id} shows it…}}``. A user may keep
``TRAX_WS_MAX_CONNECTIONS_PER_USER`` sockets open per server; one more is closed with 1008. A
socket that does not read its messages is closed with 1013.
"""

from __future__ import annotations

import anyio
from fastapi import APIRouter, WebSocket, WebSocketDisconnect, status

from trax import errors
from trax.db import utcnow
from trax.notifications.feed import ChangeFeed, Subscription, TooManySocketsError
from trax.runtime import Runtime
from trax.users.auth import authenticate

router = APIRouter(tags=["notifications"])
TOO_SLOW = "messages were not read fast enough"
SHUTTING_DOWN = "the server is shutting down"


def _credential(ws: WebSocket) -> str:
    scheme, _, value = ws.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    return ws.query_params.get("token", "")


@router.websocket("/api/v1/ws")
async def notifications(ws: WebSocket) -> None:
    """Authenticate with ``Authorization: Bearer …`` or ``?token=…`` (browsers cannot set
    headers); then receive one JSON message per change of your jobs."""
    rt: Runtime = ws.app.state.runtime
    feed: ChangeFeed = ws.app.state.feed
    connected = utcnow()  # changes from here on are the client's, even before it subscribed
    await ws.accept()
    try:
        async with rt.db.session() as s:
            user = await authenticate(s, rt.settings, _credential(ws))
        async with (
            feed.subscribe(user.id, connected) as subscription,
            anyio.create_task_group() as tg,
        ):
            tg.start_soon(_push, ws, subscription, tg.cancel_scope)
            while (await ws.receive())["type"] != "websocket.disconnect":
                pass  # the client speaks only to close; anything else is ignored
            tg.cancel_scope.cancel()
    except (errors.AuthError, TooManySocketsError) as exc:
        await ws.close(code=status.WS_1008_POLICY_VIOLATION, reason=exc.message)


async def _push(ws: WebSocket, subscription: Subscription, scope: anyio.CancelScope) -> None:
    try:
        async for message in subscription.messages:
            await ws.send_text(message)
        reason = TOO_SLOW if subscription.dropped else SHUTTING_DOWN
        await ws.close(code=status.WS_1013_TRY_AGAIN_LATER, reason=reason)
    except (WebSocketDisconnect, RuntimeError):  # the client left while we were sending
        pass
    scope.cancel()
