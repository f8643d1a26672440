"""The webhook job: one signed POST of a delivery per run, every attempt logged.

The job is claimed like any other (a redelivered message finds it taken or finished and does
nothing), with a lease long enough to cover one request. Each attempt has an overall deadline
(``TRAX_WEBHOOK_DEADLINE_SECONDS``): a receiver that drips its answer a byte at a time keeps
every read alive, so a read timeout alone would let it hold the attempt for ever.

A 2xx answer finishes the delivery; 410 disables the endpoint; anything else is put back in the
queue for the broker to retry with exponential backoff and jitter until
``TRAX_WEBHOOK_MAX_ATTEMPTS``. Each attempt re-signs the same body with a fresh timestamp under
the delivery's stable ``webhook-id``.
"""

from __future__ import annotations

import time

import anyio
import httpx
import structlog

from trax import errors, outbound
from trax.config import Settings
from trax.db import utcnow
from trax.jobs import service as jobs
from trax.jobs.models import Job
from trax.queue import TIME_LIMIT_MARGIN_S, ActorSpec
from trax.runtime import Runtime
from trax.unit_of_work import Delivery
from trax.webhooks import service as webhooks

log = structlog.get_logger(__name__)
USER_AGENT = "Trax-Webhooks/1"
ENDPOINT_DISABLED = "endpoint_disabled"
INTERNAL_ERROR = "internal error: {detail}"
SEND_TIMED_OUT = "no complete answer within {seconds:g} s"
READ_BYTES = 2048


def delivery_actor(settings: Settings) -> ActorSpec:
    """The ``webhook`` actor: exponential backoff with jitter between attempts, up to
    ``TRAX_WEBHOOK_MAX_ATTEMPTS``; the time limit is a backstop above the attempt's own deadline."""
    return ActorSpec(
        kind=jobs.WEBHOOK,
        run=run_delivery,
        retries=settings.webhook_max_attempts - 1,
        backoff_ms=(
            int(settings.webhook_min_backoff_seconds * 1000),
            int(settings.webhook_max_backoff_seconds * 1000),
        ),
        time_limit_s=settings.webhook_deadline_seconds + TIME_LIMIT_MARGIN_S,
    )


async def run_delivery(rt: Runtime, delivery: Delivery, job_id: str) -> Job | None:
    """Make one attempt of the job's delivery. None when the job was not ours to run."""
    del delivery  # retries go through the broker (TransientJobError), nothing to enqueue here
    settings = rt.settings
    owner = jobs.this_owner()
    lease = settings.lease_seconds + settings.webhook_deadline_seconds
    async with rt.db.session() as s:
        if not await jobs.claim(s, job_id, owner, lease):
            return None
        job = await jobs.get(s, job_id)
        attempts = job.attempts
        plan = await webhooks.prepare(s, str(job.options.get("delivery_id", "")))
        if isinstance(plan, webhooks.Skipped):
            if plan.failure is None:
                return await jobs.complete(s, job_id, owner, stage=plan.stage)
            return await jobs.fail(s, job_id, owner, ENDPOINT_DISABLED, plan.failure)
    outcome = await send(rt, plan)
    final = outcome.permanent or attempts >= settings.webhook_max_attempts
    kind = outcome.error_kind or ""
    message = f"{plan.url}: {outcome.error}"
    async with rt.db.session() as s:
        await webhooks.record_attempt(s, plan, outcome, final=final)
        try:
            if outcome.ok:
                return await jobs.complete(s, job_id, owner, stage="delivered")
            if final or outcome.gone:
                return await jobs.fail(s, job_id, owner, kind, message)
            await jobs.requeue(s, job_id, owner, kind, message)
        except errors.JobAborted:
            log.info("webhook job cancelled while sending", job_id=job_id)
            return None
    raise errors.TransientJobError(message)


async def send(rt: Runtime, out: webhooks.Outgoing) -> webhooks.Outcome:
    """POST the signed body once and describe what happened (never raises for the answer)."""
    timeout = rt.settings.outbound_timeout_seconds
    deadline = rt.settings.webhook_deadline_seconds
    headers = {
        **webhooks.signed_headers(out.secret, out.message_id, utcnow(), out.body),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    client = outbound.guarded_client(
        allow_loopback=rt.settings.outbound_allow_loopback, timeout=timeout
    )
    try:
        with anyio.fail_after(deadline):
            async with (
                client,
                client.stream("POST", out.url, content=out.body.encode(), headers=headers) as r,
            ):
                excerpt = await _excerpt(r)
    except errors.TraxError as exc:  # the SSRF guard: the same request will always be refused
        reason = exc.reason if isinstance(exc, errors.OutboundError) else exc.message
        return webhooks.Outcome(took(), error_kind=exc.code, error=reason, permanent=exc.permanent)
    except httpx.HTTPError as exc:
        lost = outbound.failure_for(out.url, exc, timeout)
        return webhooks.Outcome(took(), error_kind=lost.code, error=lost.reason)
    except TimeoutError:
        reason = SEND_TIMED_OUT.format(seconds=deadline)
        return webhooks.Outcome(took(), error_kind="outbound_unavailable", error=reason)
    except Exception as exc:  # unexpected: keep the reason, retry, then fail
        log.exception("webhook send crashed", delivery_id=out.delivery_id)
        detail = INTERNAL_ERROR.format(detail=repr(exc))
        return webhooks.Outcome(took(), error_kind="internal_error", error=detail)
    status = r.status_code
    failure = None if r.is_success else outbound.status_error(out.url, status)
    return webhooks.Outcome(
        took(),
        status_code=status,
        excerpt=excerpt,
        error_kind=failure.code if failure else None,
        error=failure.reason if failure else None,
    )


async def _excerpt(response: httpx.Response) -> str:
    """The start of the answer's body (enough for the log, never the whole of a large one)."""
    raw = b""
    async for chunk in response.aiter_bytes():
        raw += chunk
        if len(raw) >= READ_BYTES:
            break
    return raw.decode("utf-8", "replace")[: webhooks.EXCERPT_CHARS]
