"""First sign-in: forced password change, then two-factor enrolment with an authenticator app."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyotp
import pytest
from playwright.sync_api import expect

from console.auth import clock
from tests.support.browser import LiveConsole, assert_accessible, create_user, screenshot, sign_in

TEMPORARY = "temporary password given out 31"
CHOSEN = "lantern orchard velvet compass"


def test_first_sign_in_changes_password_and_enrols_totp(
    live: LiveConsole, page: Any, artifacts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The console reads the time through console.auth.clock; holding it still makes the codes
    # below independent of when the test runs (no crossing of a 30-second step mid-test).
    enrolled_at = clock.now()
    monkeypatch.setattr(clock, "now", lambda: enrolled_at)
    create_user(
        live.app,
        "nina",
        ("Clinician",),
        full_name="Nina New",
        password=TEMPORARY,
        must_change_password=True,
        must_enrol_totp=True,
    )
    sign_in(page, "nina", TEMPORARY)

    expect(page.get_by_role("heading", name="Change your password")).to_be_visible()
    expect(page.get_by_text("You need to choose a new password")).to_be_visible()
    page.goto("/")  # nothing else is reachable yet
    expect(page.get_by_role("heading", name="Change your password")).to_be_visible()
    assert_accessible(page, "the forced password change")
    screenshot(page, artifacts, "first-sign-in-change-password")

    page.get_by_label("New password", exact=True).fill(CHOSEN)
    page.get_by_label("Confirm new password").fill(CHOSEN)
    page.get_by_role("button", name="Change password").click()

    expect(page.get_by_role("heading", name="Set up two-factor sign-in")).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("QR code"))).to_be_visible()
    page.wait_for_function(  # the QR code image loads (it is served by the console)
        "() => { const i = document.querySelector('img.qr-code');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    assert_accessible(page, "two-factor enrolment")
    screenshot(page, artifacts, "first-sign-in-totp-enrol")

    secret = page.locator("code.secret").inner_text().replace(" ", "")
    totp = pyotp.TOTP(secret)
    page.get_by_label("Code from your authenticator app").fill(totp.at(enrolled_at))
    page.get_by_role("button", name="Confirm and turn on").click()

    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    expect(page.locator(".recovery-codes li")).to_have_count(10)
    assert_accessible(page, "the recovery codes")
    screenshot(page, artifacts, "first-sign-in-recovery-codes")
    page.get_by_role("link", name=re.compile("I have saved my codes")).click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.goto("/")
    expect(page.get_by_role("heading", name="Welcome, Nina New")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You have signed out.")).to_be_visible()

    later = enrolled_at + timedelta(minutes=2)
    monkeypatch.setattr(clock, "now", lambda: later)
    sign_in(page, "nina", CHOSEN, admin_code=False)
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    assert_accessible(page, "the two-factor code page")
    screenshot(page, artifacts, "sign-in-code")
    page.get_by_label("Code", exact=True).fill(totp.at(later))
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Welcome, Nina New")).to_be_visible()
