"""``trax serve``: the HTTP service under uvicorn."""

from __future__ import annotations

import click


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
def serve(host: str, port: int) -> None:
    """Serve the HTTP API (OpenAPI at /docs). With the embedded default the server also runs
    the jobs; with TRAX_BROKER_URL, `trax worker` processes do. Behind a reverse proxy, set
    TRAX_TRUSTED_PROXIES to its address so that clients are told apart."""
    import uvicorn

    from trax.api import create_app

    # proxy_headers=False: uvicorn would otherwise believe X-Forwarded-For from 127.0.0.1, so any
    # local client could pick its own address; the app trusts only TRAX_TRUSTED_PROXIES.
    uvicorn.run(create_app(), host=host, port=port, log_level="info", proxy_headers=False)
