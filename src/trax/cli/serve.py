"""``trax serve``: the HTTP service under uvicorn, in one process or several behind one port."""

from __future__ import annotations

import socket

import click

#: The application factory uvicorn imports in each worker process (``--workers`` > 1).
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
    from uvicorn.supervisors import Multiprocess

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
    # Several processes share one listening socket bound here; each worker is spawned, imports
    # Trax and builds the app from the factory (its own database pool, storage and job pool).
    Multiprocess(config, sockets=[_tcp(config.bind_socket())]).run()


def _tcp(sock: socket.socket) -> socket.socket:
    """The listening socket with its protocol number set. uvicorn creates it with protocol 0,
    and asyncio turns Nagle's algorithm off (TCP_NODELAY) only on connections accepted from a
    socket whose protocol is IPPROTO_TCP: every keep-alive response then waited for the
    client's delayed ACK, 40 ms, and two workers served 360 requests/s where one served 5000."""
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return sock
    return socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
