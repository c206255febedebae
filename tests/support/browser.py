"""What the browser journeys share: signing in, screenshots, axe-core checks, keyboard focus."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyotp
import pytest
from flask import Flask, url_for
from playwright.sync_api import Error as PlaywrightError

from console.auth import clock
from console.sandbox.server import EmulatorServer
from tests.support.users import ADMIN_TOTP_SECRET, DEFAULT_PASSWORD, make_user

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "tests" / "browser"
"""The browser tests' folder: the scripts they inject into pages."""
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
BLOCKING_IMPACTS = ("serious", "critical")
_FOCUS_SCRIPT = (HERE / "check_focus.js").read_text()
# Full-page screenshots leave empty style="" attributes behind; htmx would copy them onto
# swapped-in elements later, a CSP violation caused by the test rather than the page.
_DROP_LEFTOVER_STYLES = """() => {
    const before = window.__styledBefore || new Set();
    document.querySelectorAll('[style]').forEach(e => {
        if (!before.has(e)) { e.removeAttribute('style'); }
    });
}"""


class PageWatch:
    """What a page received while a test ran: every answer of 400 or more, and failed requests."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.problems: list[str] = []
        page.on("response", self._response)
        page.on("requestfailed", self._failed)

    def _response(self, response: Any) -> None:
        if response.status >= 400:
            self.problems.append(f"{response.status} {response.request.method} {response.url}")

    def _failed(self, request: Any) -> None:
        self.problems.append(f"failed {request.method} {request.url}: {request.failure}")

    def describe(self, region: str | None = None) -> str:
        """The page's address, title, the text of ``region`` (a selector) when given, its main
        text (shortened) and the failed answers seen."""
        lines = [f"page: {self.page.url}"]
        try:
            lines.append(f"title: {self.page.title()!r}")
            if region and self.page.locator(region).count():
                shown = " ".join(self.page.locator(region).first.inner_text(timeout=2_000).split())
                lines.append(f"{region} showed: {shown[:1_000]}")
            main = self.page.locator("main")
            text = main.first.inner_text(timeout=2_000) if main.count() else ""
            if not text:
                text = self.page.locator("body").inner_text(timeout=2_000)
            text = " ".join(text.split())
            lines.append("it showed: " + (text[:2_000] + " …" if len(text) > 2_000 else text))
        except Exception as exc:  # the page may be mid-navigation or closed
            lines.append(f"(page text unavailable: {type(exc).__name__}: {exc})")
        lines.append(
            "answers of 400 or more / failed requests: " + (", ".join(self.problems) or "none")
        )
        return "\n".join(lines)

    @contextmanager
    def step(self, what: str, region: str | None = None) -> Iterator[None]:
        """Run one step of a journey; when it fails, say what the page showed at that moment."""
        try:
            yield
        except (AssertionError, PlaywrightError) as exc:
            raise AssertionError(f"{what} failed: {exc}\n{self.describe(region)}") from exc


def create_user(app: Flask, username: str, roles: tuple[str, ...], **fields: Any) -> int:
    """A user with the default test password."""
    return make_user(app, username, roles=roles, **fields)


def sign_in(
    page: Any, username: str, password: str = DEFAULT_PASSWORD, *, admin_code: bool = True
) -> None:
    """Sign in through the form, like a person with a mouse. When the code step follows and
    ``admin_code`` is on, enter a code of ``ADMIN_TOTP_SECRET`` (test administrators' key)."""
    page.goto("/auth/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    totp = pyotp.TOTP(ADMIN_TOTP_SECRET)
    # A code is single-use: when this administrator signed in a moment ago with the current
    # step's code, the next step's (still within the allowed drift) is the one to use.
    for steps_ahead in (0, 1):
        if not admin_code or "/auth/login/code" not in page.url:
            return
        code = totp.generate_otp(totp.timecode(clock.now()) + steps_ahead)
        page.get_by_label("Code", exact=True).fill(code)
        page.get_by_role("button", name="Continue").click()
        page.wait_for_load_state()


def screenshot(page: Any, folder: Path, name: str) -> Path:
    """Save a full-page screenshot of what the user sees now."""
    path = folder / f"{name}.png"
    page.evaluate(
        "() => { window.__styledBefore = new Set(document.querySelectorAll('[style]')); }"
    )
    page.screenshot(path=str(path), full_page=True)
    page.evaluate(_DROP_LEFTOVER_STYLES)
    return path


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Serious and critical WCAG 2.2 AA violations axe-core finds on the current page.

    axe is evaluated through the DevTools protocol rather than injected as a ``<script>``:
    the console's CSP (``script-src 'self'``) rightly refuses inline scripts.
    """
    if not AXE.is_file():
        raise AssertionError(f"{AXE} is missing: run 'npm ci' (make install) first")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text() + "\n;undefined")
    result = page.evaluate(
        """async (tags) => {
            const styled = new Set(document.querySelectorAll('[style]'));
            const r = await axe.run(document, {runOnly: {type: 'tag', values: tags},
                                               resultTypes: ['violations']});
            document.querySelectorAll('[style]').forEach(e => {
                if (!styled.has(e)) { e.removeAttribute('style'); }
            });
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => ({target: n.target, summary: n.failureSummary}))}));
        }""",
        AXE_TAGS,
    )
    return [v for v in result if v["impact"] in BLOCKING_IMPACTS]


def assert_accessible(page: Any, where: str) -> None:
    """No serious or critical WCAG 2.2 AA violations on the current page."""
    found = axe_violations(page)
    assert not found, f"axe-core on {where} ({page.url}):\n" + json.dumps(found, indent=2)


def focused(page: Any) -> dict[str, Any]:
    """The focused element: tag, id, name, text, and whether its focus is visibly drawn."""
    return page.evaluate(_FOCUS_SCRIPT)


def tab_until(page: Any, matches: Callable[[dict[str, Any]], bool], limit: int = 40) -> dict:
    """Press Tab until the focused element matches; fail if it never does."""
    seen: list[str] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        now = focused(page)
        if matches(now):
            return now
        seen.append(f"{now['tag']}#{now['id']}[{now['name']}] {now['text']!r}")
    raise AssertionError("focus never reached the element; visited:\n" + "\n".join(seen))


def assert_focus_visible(page: Any) -> dict[str, Any]:
    """The focused element shows a visible focus indicator."""
    now = focused(page)
    assert now["visible"], f"focus is not visible on {now}"
    return now


@dataclass
class LiveConsole:
    """The console served on loopback, with the emulators it talks to (when present)."""

    url: str
    app: Flask
    hapi: EmulatorServer | None = None
    ehrbase: EmulatorServer | None = None
    data: dict[str, Any] = field(default_factory=dict)
    slow: SlowHtmx | None = None

    def delay_htmx(self, milliseconds: int) -> None:
        """Make every htmx request take this much longer, so the activity indicator shows."""
        assert self.slow is not None
        self.slow.delay = milliseconds / 1000


class SlowHtmx:
    """WSGI middleware of the test server: optionally delays requests sent by htmx."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.delay = 0.0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self.delay and environ.get("HTTP_HX_REQUEST"):
            time.sleep(self.delay)
        return self.app(environ, start_response)


def _search_path(live: LiveConsole) -> str:
    if "patients.search" not in live.app.view_functions or live.hapi is None:
        pytest.skip("this build has no patient search page")
    with live.app.test_request_context():
        return url_for("patients.search")


def _clinician(live: LiveConsole, page: Any) -> None:
    create_user(live.app, "dr.who", ("Clinician",), full_name="Dr Who")
    sign_in(page, "dr.who")
