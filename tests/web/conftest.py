"""A live Trax server on loopback (SQLite, tiny.en, in-process workers), one account on it, and
one Debian Chromium for the whole session, driven by Playwright. No browser is downloaded."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, sync_playwright

from trax.config import Settings

from ..api.conftest import serve

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE = Path(__file__).parent / "vendor" / "axe-4.14.1.min.js"
PASSWORD = "correct horse battery"
#: Screenshots of every page the browser tests visit (git-ignored; CI may keep them).
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"


@dataclass(frozen=True)
class Site:
    url: str
    settings: Settings
    artifacts: Path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("web")
    settings = Settings(
        data_dir=root / "data",
        database_url=f"sqlite+aiosqlite:///{root / 'trax.db'}",
        model_cache_dir=model_cache,
        cpu_threads=2,
        default_model="tiny.en",
        max_file_bytes=5_000_000,
    )
    artifacts = ARTIFACTS
    artifacts.mkdir(parents=True, exist_ok=True)
    with serve(settings) as url:
        yield Site(url, settings, artifacts)


def make_account(site: Site, email: str) -> None:
    """An account made over the API, the way users make one."""
    with httpx.Client(base_url=site.url, timeout=30) as http:
        answer = http.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
        assert answer.status_code == 201, answer.text


@pytest.fixture(scope="module")
def playwright_driver(site: Site) -> Iterator[Playwright]:
    """Playwright's driver, started after the server is up and stopped with the module: its sync
    API holds an event loop on the main thread while it runs, and no ``anyio.run`` (the server's
    start-up migration, other tests' async fixtures) can run inside it."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs it")
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    """Debian's Chromium, once for all the browser tests (they are all in one module)."""
    found = playwright_driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield found
    found.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookies) and page."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def console(page: Page) -> list[str]:
    """The page's console errors and uncaught exceptions, as they happen."""
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"{message.text} at {message.location['url']}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def serious_violations(page: Page) -> list[str]:
    """axe-core's critical and serious accessibility violations on the page, as text."""
    # Evaluated by the driver, not as an inline script: the pages' CSP stays in force.
    page.evaluate(AXE.read_text())
    result = page.evaluate("async () => await axe.run(document)")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("critical", "serious")
    ]
