"""Single sign-on pages in a real browser, with axe-core: the sign-in page with its single
sign-on button (and the message when the provider cannot be reached), and the administrators'
single sign-on link page in each of its states."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import url_for
from playwright.sync_api import expect

from tests.support.browser import LiveConsole, assert_accessible, create_user, screenshot, sign_in

DEAD_PORT = int(os.environ.get("SSO_TEST_DEAD_PORT", "18185"))
BUTTON = "Sign in with your organisation account"


@pytest.fixture
def live(console_factory: Callable[..., LiveConsole]) -> LiveConsole:
    """A console configured for single sign-on with a provider that does not answer."""
    return console_factory(
        OIDC_ISSUER=f"http://127.0.0.1:{DEAD_PORT}/realms/quill",
        OIDC_CLIENT_ID="quill-console",
        OIDC_CLIENT_SECRET="browser-test-secret",
    )


def test_the_sign_in_page_with_the_single_sign_on_button_is_accessible(
    live: LiveConsole, page: Any, artifacts: Path
) -> None:
    page.goto("/auth/login")
    button = page.get_by_role("link", name=BUTTON)
    expect(button).to_be_visible()
    assert_accessible(page, "the sign-in page with the single sign-on button")
    screenshot(page, artifacts, "sign-in-sso")

    button.click()

    expect(page.get_by_text("sign-in service cannot be reached")).to_be_visible()
    expect(page.get_by_label("Username")).to_be_visible()  # a password still works
    assert_accessible(page, "the sign-in page when the provider cannot be reached")
    screenshot(page, artifacts, "sign-in-sso-unreachable")


def test_the_single_sign_on_link_page_is_accessible_in_each_state(
    live: LiveConsole, page: Any, artifacts: Path
) -> None:
    create_user(live.app, "link.admin", ("System administrator",), full_name="Link Admin")
    nurse = create_user(live.app, "ward.nurse", ("Clinician",), full_name="Ward Nurse")
    with live.app.test_request_context():
        path = url_for("sso_admin.user_sign_in", user_id=nurse)
    sign_in(page, "link.admin")
    page.goto(path)
    expect(page.get_by_text("Not linked")).to_be_visible()
    assert_accessible(page, "the link page, not linked")
    screenshot(page, artifacts, "admin-user-sso-not-linked")

    page.get_by_role("button", name="Link", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("Enter the identity's subject")
    assert_accessible(page, "the link page with an error")
    screenshot(page, artifacts, "admin-user-sso-error")

    page.get_by_label("Subject (sub)").fill("nurse-subject")
    page.get_by_role("button", name="Link", exact=True).click()
    expect(page.get_by_text("Linked to subject nurse-subject")).to_be_visible()
    expect(page.get_by_role("button", name="Remove the link")).to_be_visible()
    assert_accessible(page, "the link page, linked")
    screenshot(page, artifacts, "admin-user-sso-linked")
