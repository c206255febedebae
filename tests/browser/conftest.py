"""Browser fixtures: Debian's Chromium through Playwright, the console on a real threaded server.

One browser per test session, a fresh context (cookies, storage) per test. Every page loads
``csp_listener.js`` so that a Content-Security-Policy violation anywhere fails the test.
Without Chromium the tests skip with the reason; with ``CI=true`` they fail instead.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from tests.browser import emulators as upstream
from tests.support.browser import LiveConsole, SlowHtmx

HERE = Path(__file__).resolve().parent
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() == "true"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--metrics-recording-only",
    "--no-default-browser-check",
    "--password-store=basic",
]
# How long an expectation or action may wait (it returns as soon as it holds): a loaded CI
# machine with two cores gets more headroom than a laptop.
TIMEOUT_MS = 20_000 if IN_CI else 10_000


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/browser carries the ``browser`` marker."""
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(reason + " (CI=true: the browser tests must run)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium, one per session (nothing downloads a browser)."""
    if importlib.util.find_spec("playwright") is None:
        _unavailable("Playwright for Python is not installed (pip install -e '.[dev]')")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        _unavailable(f"no Chromium at {CHROMIUM}: run 'bash tests/install_system_tools.sh' as root")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield instance
        finally:
            instance.close()


class _QuietHandler(WSGIRequestHandler):
    """No access log lines in the test output."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def serve(app: Any) -> tuple[BaseWSGIServer, str]:
    """Serve a WSGI app from a thread on 127.0.0.1 with an ephemeral port."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


@pytest.fixture(scope="session")
def hapi_upstream() -> Iterator[upstream.Upstream | None]:
    """The HAPI FHIR emulator seeded with a small synthetic data set (None until it exists)."""
    started = upstream.start_hapi()
    yield started
    if started is not None:
        started.server.stop()


@pytest.fixture(scope="session")
def ehrbase_upstream(
    hapi_upstream: upstream.Upstream | None,
) -> Iterator[upstream.Upstream | None]:
    """The EHRbase emulator with letters for the synthetic patients (None until it exists)."""
    started = upstream.start_ehrbase(hapi_upstream)
    yield started
    if started is not None:
        started.server.stop()


@pytest.fixture
def console_factory(
    app_factory: Callable[..., Flask],
    hapi_upstream: upstream.Upstream | None,
    ehrbase_upstream: upstream.Upstream | None,
) -> Iterator[Callable[..., LiveConsole]]:
    """Start consoles on fresh migrated SQLite databases; keyword arguments override config."""
    servers: list[BaseWSGIServer] = []

    def start(**overrides: Any) -> LiveConsole:
        config: dict[str, Any] = {}
        if hapi_upstream is not None:
            config.update(hapi_upstream.config)
        if ehrbase_upstream is not None:
            config.update(ehrbase_upstream.config)
        config.update(overrides)
        app = app_factory(**config)
        slow = SlowHtmx(app.wsgi_app)
        server, url = serve(slow)
        servers.append(server)
        return LiveConsole(
            url=url,
            app=app,
            slow=slow,
            hapi=hapi_upstream.server if hapi_upstream else None,
            ehrbase=ehrbase_upstream.server if ehrbase_upstream else None,
            data={
                **(hapi_upstream.data if hapi_upstream else {}),
                **(ehrbase_upstream.data if ehrbase_upstream else {}),
            },
        )

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
    for emulator in (hapi_upstream, ehrbase_upstream):
        if emulator is not None:
            emulator.server.accept_connections()
            emulator.server.clear_faults()


@pytest.fixture
def live(console_factory: Callable[..., LiveConsole]) -> LiveConsole:
    """A console with default settings."""
    return console_factory()


@dataclass
class PageProblems:
    """What went wrong in the browser while a test ran."""

    csp: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture
def problems() -> PageProblems:
    """CSP violations and script errors seen by ``page``."""
    return PageProblems()


@pytest.fixture
def context_factory(
    browser: Any, problems: PageProblems, tmp_path: Path
) -> Iterator[Callable[[str], Any]]:
    """Fresh browser contexts (own cookies and storage) that watch for CSP violations."""
    contexts: list[Any] = []
    listener = (HERE / "csp_listener.js").read_text()

    from playwright.sync_api import expect

    def make(base_url: str) -> Any:
        context = browser.new_context(
            base_url=base_url,
            viewport={"width": 1280, "height": 900},
            locale="en-GB",
            timezone_id="Europe/London",
            service_workers="block",
        )
        context.set_default_timeout(TIMEOUT_MS)
        expect.set_options(timeout=TIMEOUT_MS)  # assertions wait as long as actions
        context.add_init_script(script=listener)
        context.on("page", lambda p: _watch(p, problems))
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


def _watch(page: Any, problems: PageProblems) -> None:
    def on_console(message: Any) -> None:
        text = message.text
        if text.startswith("CSP-VIOLATION ") or "Content Security Policy" in text:
            problems.csp.append(text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.errors.append(str(error)))


@pytest.fixture
def page(
    live: LiveConsole, context_factory: Callable[[str], Any], problems: PageProblems
) -> Iterator[Any]:
    """A page in a fresh context on ``live``; fails the test on a CSP violation or script error."""
    context = context_factory(live.url)
    tab = context.new_page()
    yield tab
    assert not problems.csp, "Content-Security-Policy violations:\n" + "\n".join(problems.csp)
    assert not problems.errors, "script errors in the page:\n" + "\n".join(problems.errors)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go (git-ignored)."""
    root = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
    root.mkdir(parents=True, exist_ok=True)
    return root
