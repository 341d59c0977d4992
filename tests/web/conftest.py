"""A live Haven server and a real headless Chromium for the browser tests.

The server is the app itself, served by uvicorn in a thread on a free loopback port, on a
database of its own migrated from empty (on the engine under test, like every other test).
Chromium is Debian's (``.ci/run`` installs it), driven by Playwright through
``executable_path``: no browser is ever downloaded. Without Chromium the browser tests are
skipped on a developer's machine and fail in CI.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import uvicorn
from fastapi import FastAPI

from app.main import create_app
from tests.conftest import database_url, make_settings
from tests.web.world import CaseWorld, build_case

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}


def needed(what: str) -> None:
    """A missing tool fails the run in CI and skips the test elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing (CI installs it in .ci/run)")
    pytest.skip(f"{what} is missing")


def chromium_path() -> str:
    for candidate in ("chromium", "chromium-browser"):
        found = shutil.which(candidate)
        if found:
            return found
    needed("Debian's chromium")
    raise AssertionError("unreachable")


@dataclass
class Live:
    app: FastAPI
    url: str


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("live")
    with database_url(tmp) as url:
        app = create_app(make_settings(tmp, url))
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=port,
                log_level="warning",
                timeout_graceful_shutdown=2,
            )
        )
        thread = threading.Thread(target=server.run, name="live-haven", daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the live server did not start")
            time.sleep(0.05)
        try:
            yield Live(app, f"http://127.0.0.1:{port}")
        finally:
            server.should_exit = True
            thread.join(15)
            app.state.engine.dispose()


@pytest.fixture(scope="session")
def case_world(live: Live) -> CaseWorld:
    return build_case(live.app, live.url)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        needed("the playwright package (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class Watch:
    """Every URL a browser context requested, and any CSP violation it reported."""

    urls: list[str] = field(default_factory=list)
    csp: list[str] = field(default_factory=list)

    def foreign(self) -> list[str]:
        return [u for u in self.urls if urlparse(u).hostname not in ("127.0.0.1", None)]


@pytest.fixture
def context(browser: Any) -> Iterator[tuple[Any, Watch]]:
    """A fresh browser profile (no cookies) at 1280 by 800, watched."""
    watch = Watch()
    ctx = browser.new_context(viewport=VIEWPORT, locale="en-GB", accept_downloads=True)
    ctx.on("request", lambda request: watch.urls.append(request.url))

    def console(message: Any) -> None:
        if "Content Security Policy" in message.text:
            watch.csp.append(message.text)

    ctx.on("page", lambda page: page.on("console", console))
    try:
        yield ctx, watch
    finally:
        ctx.close()


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path
