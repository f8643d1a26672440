"""``trax serve``: the HTTP service under uvicorn, in one process or several behind one port."""

from __future__ import annotations

import logging
import socket
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from uvicorn import Config

#: The application factory uvicorn builds the app with in each server process.
APP_FACTORY = "trax.api:create_served_app"
#: uvicorn's exit code when the server could not start.
STARTUP_FAILURE = 3


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes sharing the port (about one per core). With the embedded default "
    "each process also runs jobs; the database hands every job to exactly one of them.",
)
def serve(host: str, port: int, workers: int) -> None:
    """Serve the HTTP API (OpenAPI at /docs). With the embedded default the server also runs
    the jobs; with TRAX_BROKER_URL, `trax worker` processes do. Behind a reverse proxy, set
    TRAX_TRUSTED_PROXIES to its address so that clients are told apart."""
    import uvicorn

    from trax.config import get_settings
    from trax.users.auth import signing_key

    # Made here, once, before any worker process exists: every worker must sign with one key.
    signing_key(get_settings())
    config = uvicorn.Config(
        APP_FACTORY,
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level="info",
        # uvicorn would otherwise believe X-Forwarded-For from 127.0.0.1, so any local client
        # could pick its own address; the app trusts only TRAX_TRUSTED_PROXIES.
        proxy_headers=False,
    )
    if workers == 1:
        config.load_app()
        server = uvicorn.Server(config)
        server.run()
        if not server.started:  # as uvicorn.run: the port was taken, or start-up failed
            raise SystemExit(STARTUP_FAILURE)
        return
    # Each worker is spawned, imports Trax and builds the app from the factory (its own
    # database pool, storage and job pool), and listens on a socket of its own.
    try:
        _listening_socket(config).close()  # the port is free (or ours to share): fail early
    except OSError as exc:
        click.echo(f"error: cannot listen on {host}:{port}: {exc.strerror}", err=True)
        raise SystemExit(STARTUP_FAILURE) from None
    _run_workers(config)


def _listening_socket(config: Config) -> socket.socket:
    """A TCP socket bound to the configured address with ``SO_REUSEPORT``: each worker listens on
    its own, and the kernel spreads new connections over them.

    uvicorn's supervisor hands one shared socket to every worker instead; a worker's event loop
    then accepts every connection waiting when it wakes, and a client that opens its keep-alive
    connections at once (a proxy, wrk's 16) often had all of them served by one process while
    the other idled (ADR 0022). The socket is created with protocol ``IPPROTO_TCP``: with
    protocol 0 asyncio leaves Nagle's algorithm on, and every keep-alive response waited for the
    client's delayed ACK, 40 ms (ADR 0019)."""
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((config.host, config.port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _run_workers(config: Config) -> None:
    """uvicorn's supervisor (signals, health checks, restarts), except that every worker it
    starts gets a socket of its own (:func:`_listening_socket`) instead of the shared one."""
    from uvicorn.supervisors import Multiprocess

    class SocketPerWorker(Multiprocess):
        @property
        def sockets(self) -> list[socket.socket]:  # read once per worker started
            return [_listening_socket(self.config)]

        @sockets.setter
        def sockets(self, _shared: list[socket.socket]) -> None:
            pass

    scheme_host = f"[{config.host}]" if ":" in config.host else config.host
    logging.getLogger("uvicorn.error").info(
        "Trax serving on http://%s:%d with %d processes (Press CTRL+C to quit)",
        scheme_host, config.port, config.workers,
    )  # fmt: skip
    SocketPerWorker(config, sockets=[]).run()
