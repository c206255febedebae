"""An idle session ends: the next click goes back to sign-in, and sign-in returns to the page."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from console.auth import clock
from tests.browser.conftest import LiveConsole
from tests.browser.support import assert_accessible, create_user, screenshot, sign_in
from tests.helpers import DEFAULT_PASSWORD


def test_idle_session_sends_the_user_back_to_sign_in(
    live: LiveConsole, page: Any, artifacts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_user(live.app, "ida", ("Clinician",), full_name="Ida Idle")
    sign_in(page, "ida")
    expect(page.get_by_role("heading", name="Welcome, Ida Idle")).to_be_visible()

    real_now = clock.now
    monkeypatch.setattr(clock, "now", lambda: real_now() + timedelta(minutes=16))
    page.get_by_role("link", name="Your account").click()

    expect(page).to_have_url(re.compile(r"/auth/login\?next=/auth/account"))
    expect(page.get_by_text("not used for a while")).to_be_visible()
    assert_accessible(page, "sign-in after the session ended")
    screenshot(page, artifacts, "session-expired")

    page.get_by_label("Username").fill("ida")
    page.get_by_label("Password", exact=True).fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
