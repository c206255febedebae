"""The environment banner (e.g. TRAINING) is on every page, the sign-in steps included, and
inside the page's banner landmark, so axe's "region" rule holds."""

from __future__ import annotations

import json
from typing import Any

from playwright.sync_api import expect

from console.appsettings import store_setting
from console.db import db
from tests.support.browser import LiveConsole, assert_accessible, create_user
from tests.support.users import DEFAULT_PASSWORD

_REGION_RULE = """async () => {
    const r = await axe.run(document, {runOnly: {type: 'rule', values: ['region']}});
    return r.violations.map(v => v.nodes.map(n => n.target));
}"""


def _banner_inside_landmarks(page: Any, where: str) -> None:
    banner = page.locator("header .environment-banner")
    expect(banner).to_have_text("TRAINING")
    assert_accessible(page, where)  # loads axe-core too
    outside = page.evaluate(_REGION_RULE)
    assert not outside, f"content outside the landmarks on {where}: {json.dumps(outside)}"


def test_the_banner_shows_on_the_sign_in_and_code_pages_inside_the_landmarks(
    live: LiveConsole, page: Any
) -> None:
    with live.app.app_context():
        store_setting("display.environment_banner", "TRAINING", None)
        db.session.commit()
    create_user(
        live.app, "two.step", ("Clinician",), totp_secret="JBSWY3DPEHPK3PXP", totp_enabled=True
    )
    page.goto("/auth/login")
    _banner_inside_landmarks(page, "the sign-in page")
    page.get_by_label("Username").fill("two.step")
    page.get_by_label("Password", exact=True).fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    _banner_inside_landmarks(page, "the two-factor code page")
