"""``trax serve``: the HTTP service under uvicorn, in one process or several behind one port."""

from __future__ import annotations

import click

#: The application factory uvicorn imports in each worker process (``--workers`` > 1).
APP_FACTORY = "trax.api:create_app"


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
    # proxy_headers=False: uvicorn would otherwise believe X-Forwarded-For from 127.0.0.1, so any
    # local client could pick its own address; the app trusts only TRAX_TRUSTED_PROXIES.
    # With several workers uvicorn binds the port once and spawns each worker, which imports
    # Trax and builds the app from the factory (its own database pool, storage and job pool).
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level="info",
        proxy_headers=False,
    )
