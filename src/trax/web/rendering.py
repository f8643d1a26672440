"""The Jinja environment of the web pages: autoescaped, with the few filters the pages use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from trax.web.sessions import WebSession

HERE = Path(__file__).parent
STATIC = HERE / "static"
HTMX = "htmx-2.0.11.min.js"
#: Pages hold CSRF and WebSocket tokens: never cached, never framed, scripts only from here.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        "img-src 'self' data:; media-src 'self'; connect-src 'self'; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
}


def clock(seconds: float | None) -> str:
    """``seconds`` as m:ss (h:mm:ss from an hour on)."""
    if seconds is None:
        return "-"
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _environment() -> Environment:
    # Autoescape on for every template: file names, transcript text and speaker names are the
    # users' and are always escaped (the one pre-escaped value, a search snippet, is marked safe
    # in its template where the search service built it from escaped text).
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["clock"] = clock
    env.globals["htmx"] = HTMX
    return env


ENV = _environment()


def page(
    request: Request,
    template: str,
    web: WebSession | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A rendered page; ``web`` gives it the user and the CSRF token its forms carry."""
    html = ENV.get_template(template).render(
        request=request,
        user=web.user if web else None,
        csrf=web.csrf if web else "",
        **context,
    )
    return HTMLResponse(html, status_code=status_code, headers=PAGE_HEADERS)


#: Paths of the API (JSON errors, whatever the client accepts).
API_PREFIXES = ("/api/", "/v1/", "/docs", "/openapi.json", "/redoc", "/health")
TITLES = {403: "Not allowed", 404: "Not found", 413: "Too large", 422: "Not accepted",
          429: "Too many attempts"}  # fmt: skip


def wants_page(request: Request) -> bool:
    """Whether an error should be answered as a page: a browser asking for a page, not the API
    and not htmx (which keeps the page it has)."""
    return (
        "text/html" in request.headers.get("accept", "")
        and not request.url.path.startswith(API_PREFIXES)
        and not request.headers.get("hx-request")
    )


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    """An error as a page (the message is escaped like all text)."""
    return page(request, "error.html", None, status_code=status, status=status,
                title=TITLES.get(status, "Something went wrong"), message=message)  # fmt: skip
