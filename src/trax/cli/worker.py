"""``trax worker``: Dramatiq worker processes consuming the Redis queue."""

from __future__ import annotations

import click

from trax.cli.common import err_console

NEEDS_BROKER = (
    "trax worker needs TRAX_BROKER_URL=redis://…; without a broker, "
    "trax transcribe runs its jobs itself"
)


@click.command()
@click.option("--processes", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--threads",
    type=click.IntRange(1, 256),
    help="Jobs in flight per process (default: TRAX_WORKER_THREADS); their audio is batched.",
)
def worker(processes: int, threads: int | None) -> None:
    """Run worker processes that take jobs from the broker until stopped (Ctrl-C, SIGTERM).

    Any number of hosts can run workers against one database, broker and storage. Each process
    loads a model once and keeps it while work flows.
    """
    from dramatiq.cli import main as dramatiq_main
    from dramatiq.cli import make_argument_parser

    from trax.config import get_settings
    from trax.pools import MAIN_QUEUES

    settings = get_settings()
    if settings.broker_url is None:
        err_console.print(f"[bold red]error:[/] {NEEDS_BROKER}", highlight=False)
        raise SystemExit(2)
    args = ["trax.worker:broker", "--processes", str(processes)]
    args += ["--threads", str(threads or settings.worker_threads)]
    args += ["--queues", *MAIN_QUEUES]  # webhooks: their own pool (trax.pools.WebhookPool)
    parsed = make_argument_parser().parse_args(args)  # type: ignore[no-untyped-call]
    raise SystemExit(dramatiq_main(parsed))  # type: ignore[no-untyped-call]
