"""Entry module of ``trax worker`` processes: Dramatiq imports it in every worker process.

It builds the broker from the settings (``TRAX_BROKER_URL`` must name a Redis server) with the
sweeper that re-enqueues lost jobs and the webhook pool (:mod:`trax.pools`): the process's main
worker takes transcriptions only. Nothing heavy happens at import: the database runtime and the
Whisper model load on the first job, once per process.
"""

from __future__ import annotations

from trax.actors import build_queue
from trax.config import get_settings
from trax.jobs.recovery import sweep
from trax.pools import WebhookPool
from trax.queue import Sweeper

_sweeper = Sweeper(get_settings(), sweep)
_webhooks = WebhookPool(get_settings().webhook_worker_threads)
queue = build_queue(get_settings(), extra=[_sweeper, _webhooks])
_sweeper.queue = queue
broker = queue.broker
