"""``/api/v1/ws``: a WebSocket that pushes the caller's job progress and completion.

The job rows are the truth, so the socket follows them: it reads the owner's jobs changed since
the last look (every ``POLL_SECONDS``) and sends one message per change. This works the same
whichever host or worker process changed the row, with no pub/sub channel to keep in step.

Messages: ``{"type": "job.progress" | "job.succeeded" | "job.failed" | "job.cancelled",
"job": {…the job as GET /api/v1/jobs/{id} shows it…}}``.
"""

from __future__ import annotations

from datetime import datetime

import anyio
from fastapi import APIRouter, WebSocket, WebSocketDisconnect, status

from trax import errors
from trax.db import utcnow
from trax.jobs import service as jobs
from trax.jobs.schemas import JobView
from trax.runtime import Runtime
from trax.users.auth import authenticate

router = APIRouter(tags=["notifications"])
POLL_SECONDS = 0.25


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
    await ws.accept()
    try:
        async with rt.db.session() as s:
            user = await authenticate(s, rt.settings, _credential(ws))
    except errors.AuthError as exc:
        await ws.close(code=status.WS_1008_POLICY_VIOLATION, reason=exc.message)
        return
    async with anyio.create_task_group() as tg:
        tg.start_soon(_push, rt, ws, user.id, tg.cancel_scope)
        while (await ws.receive())["type"] != "websocket.disconnect":
            pass  # the client speaks only to close; anything else is ignored
        tg.cancel_scope.cancel()


async def _push(rt: Runtime, ws: WebSocket, owner_id: str, scope: anyio.CancelScope) -> None:
    try:
        await _follow(rt, ws, owner_id)
    except (WebSocketDisconnect, RuntimeError):  # the client left while we were sending
        scope.cancel()


async def _follow(rt: Runtime, ws: WebSocket, owner_id: str) -> None:
    since: datetime = utcnow()
    sent: dict[str, datetime] = {}
    while True:
        async with rt.db.session() as s:
            changed = await jobs.changed_since(s, owner_id, since)
        for job in changed:
            if sent.get(job.id) == job.updated_at:
                continue
            sent[job.id] = job.updated_at
            since = max(since, job.updated_at)
            kind = f"job.{job.status.value}" if job.status.finished else "job.progress"
            view = JobView.model_validate(job).model_dump(mode="json")
            await ws.send_json({"type": kind, "job": view})
        await anyio.sleep(POLL_SECONDS)
