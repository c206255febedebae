"""Administering users in a real browser: create, search, edit by keyboard, bulk-disable."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import expect
from sqlalchemy import select

from console.db import db
from console.db.models import User
from tests.support.browser import (
    LiveConsole,
    assert_accessible,
    assert_focus_visible,
    create_user,
    focused,
    screenshot,
    sign_in,
    tab_until,
)

NEW_PASSWORD = "quiet harbour lamplight 2031"


def _admin(live: LiveConsole, page: Any) -> None:
    create_user(live.app, "root.admin", ("System administrator",), full_name="Ada Admin")
    sign_in(page, "root.admin")


def _active_usernames(live: LiveConsole) -> dict[str, bool]:
    with live.app.app_context():
        return {u.username: u.active for u in db.session.scalars(select(User))}


def _hx_requests(page: Any) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if r.headers.get("hx-request") else None)
    return seen


def test_admin_creates_a_clinician_who_then_signs_in(
    live: LiveConsole, page: Any, context_factory: Any, artifacts: Path
) -> None:
    _admin(live, page)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    expect(page.get_by_role("heading", name="Users", exact=True)).to_be_visible()
    assert_accessible(page, "the users list")
    screenshot(page, artifacts, "admin-users")

    page.get_by_role("link", name="Create user").click()
    expect(page.get_by_role("heading", name="Create a user")).to_be_visible()
    assert_accessible(page, "the create-user form")
    page.get_by_label("Username").fill("cleo.clinician")
    page.get_by_label("Full name").fill("Cleo Clinician")
    page.get_by_label("E-mail address").fill("cleo@example.org")
    page.get_by_role("group", name="Roles").get_by_label("Clinician", exact=True).check()
    screenshot(page, artifacts, "admin-user-create")
    page.get_by_role("button", name="Create user").click()

    expect(page.get_by_text("It is shown only this once")).to_be_visible()
    temporary = page.locator("#temporary-password").inner_text().strip()
    assert len(temporary) >= 12
    assert_accessible(page, "the temporary password page")

    clinician = context_factory(live.url).new_page()
    sign_in(clinician, "cleo.clinician", temporary)
    expect(clinician.get_by_role("heading", name="Change your password")).to_be_visible()
    clinician.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    clinician.get_by_label("Confirm new password").fill(NEW_PASSWORD)
    clinician.get_by_role("button", name="Change password").click()
    clinician.goto("/")
    expect(clinician.get_by_role("heading", name="Welcome, Cleo Clinician")).to_be_visible()
    nav = clinician.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Users")).to_have_count(0)
    assert clinician.goto("/admin/users").status == 403


def test_active_user_search_by_keyboard(live: LiveConsole, page: Any, artifacts: Path) -> None:
    for name in ("zebedee.one", "zebedee.two", "yolanda", "xavier", "wilma"):
        create_user(live.app, name, ("Clinician",))
    _admin(live, page)
    page.goto("/admin/users")
    requests = _hx_requests(page)
    live.delay_htmx(600)

    search = tab_until(page, lambda f: f["id"] == "user-search")
    assert search["visible"]
    page.keyboard.type("zeb", delay=40)  # faster than the debounce: one request, not three
    indicator = page.locator("#user-search-indicator")
    expect(indicator).to_be_visible()
    expect(page.locator("#user-results tbody tr")).to_have_count(2)
    expect(indicator).to_be_hidden()
    live.delay_htmx(0)

    results = page.locator("#user-results")
    expect(results).to_contain_text("zebedee.one")
    expect(results).not_to_contain_text("yolanda")
    expect(page.locator("#user-count")).to_have_text("2 users match the search and filters.")
    # One list request, then one count of its total: never a request per keystroke.
    assert len([u for u in requests if "q=zeb" in u and "/count" not in u]) == 1, requests
    assert len([u for u in requests if "q=zeb" in u and "/count?auto=1" in u]) == 1, requests
    assert not [u for u in requests if re.search(r"q=z(&|$)|q=ze(&|$)", u)], requests
    expect(page).to_have_url(re.compile(r"[?&]q=zeb"))
    assert focused(page)["id"] == "user-search", "focus left the search box after the swap"
    expect(page.get_by_role("status").filter(has_text=re.compile(r"\d"))).not_to_have_count(0)

    page.keyboard.press("Control+A")
    page.keyboard.type("nobody-like-this")
    page.keyboard.press("Enter")
    expect(results).to_contain_text("No users match")
    assert_accessible(page, "the users list after a search")
    screenshot(page, artifacts, "admin-users-search")


def test_user_edit_by_keyboard_only(live: LiveConsole, page: Any, artifacts: Path) -> None:
    create_user(live.app, "edith", ("Clinician",), full_name="Edith Before")
    _admin(live, page)
    page.goto("/admin/users?q=edith")

    link = tab_until(page, lambda f: f["tag"] == "a" and f["text"] == "edith")
    assert link["visible"]
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=re.compile("edith|Edith"))).to_be_visible()
    assert_accessible(page, "the user page")
    screenshot(page, artifacts, "admin-user-edit")

    tab_until(page, lambda f: f["name"] == "full_name")
    assert_focus_visible(page)
    page.keyboard.press("Control+A")
    page.keyboard.type("Edith After")
    save = tab_until(page, lambda f: f["tag"] == "button" and f["text"].startswith("Save"))
    assert save["visible"]
    page.keyboard.press("Enter")

    expect(
        page.get_by_role("status").filter(has_text=re.compile("saved|Saved|changed"))
    ).to_be_visible()
    with live.app.app_context():
        user = db.session.scalar(select(User).where(User.username == "edith"))
        assert user is not None and user.full_name == "Edith After"


def test_bulk_disable_over_a_filter(live: LiveConsole, page: Any, artifacts: Path) -> None:
    for i in range(1, 6):
        create_user(live.app, f"locum.{i}", ("Clinician",))
    create_user(live.app, "permanent.staff", ("Clinician",))
    _admin(live, page)
    page.goto("/admin/users?q=locum")
    expect(page.locator("#user-results tbody tr")).to_have_count(5)

    page.locator("#bulk-panel > summary").click()
    page.get_by_label("Action").select_option(label="Disable")
    page.get_by_label("Every user matching the search and filters").check()
    page.get_by_role("button", name=re.compile("Review the change")).click()

    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("5 users match the current search and filters")
    assert_accessible(page, "the bulk confirmation dialog")
    screenshot(page, artifacts, "admin-bulk-confirm")
    dialog.get_by_role("button", name=re.compile("^Disable")).click()
    expect(dialog).to_be_hidden()

    expect(page.locator("#user-results")).to_contain_text("Disabled")
    states = _active_usernames(live)
    assert [n for n, active in states.items() if not active] == [f"locum.{i}" for i in range(1, 6)]
    assert states["permanent.staff"] and states["root.admin"]


def test_the_users_page_keeps_the_bulk_panel_closed_and_shows_the_total(
    live: LiveConsole, page: Any
) -> None:
    for i in range(1, 31):
        create_user(live.app, f"agency.{i:02d}", ("Clinician",))
    _admin(live, page)
    page.goto("/admin/users?q=agency&per_page=25")
    expect(page.locator("#user-count")).to_have_text("30 users match the search and filters.")
    panel = page.locator("#bulk-panel")
    assert panel.get_attribute("open") is None
    expect(page.get_by_label("Action")).to_be_hidden()

    panel.locator("summary").click()
    role = page.get_by_label("Role (to assign or remove)")
    expect(role).to_be_hidden()  # the default action, Disable, needs no role
    page.get_by_label("Action").select_option(label="Assign role")
    expect(role).to_be_visible()
    page.get_by_label("Action").select_option(label="Unlock")
    expect(role).to_be_hidden()


def test_ticked_users_stay_ticked_across_pages_and_are_named_in_the_confirmation(
    live: LiveConsole, page: Any
) -> None:
    for i in range(1, 31):
        create_user(live.app, f"agency.{i:02d}", ("Clinician",))
    _admin(live, page)
    page.goto("/admin/users?q=agency&per_page=25")
    page.get_by_label("Select agency.01").check()
    expect(page.locator("#bulk-panel")).to_have_attribute("open", "")  # ticking opens it
    page.get_by_label("Select agency.02").check()
    page.locator("#page-next").click()
    page.get_by_label("Select agency.30").check()
    expect(page.locator("#bulk-ticked")).to_have_text("3 users ticked (2 on other pages).")
    page.locator("#page-first").click()
    expect(page.get_by_label("Select agency.01")).to_be_checked()
    expect(page.get_by_label("Select agency.02")).to_be_checked()
    expect(page.get_by_label("Select agency.03")).not_to_be_checked()

    page.get_by_label("Action").select_option(label="Disable")
    page.get_by_role("button", name=re.compile("Review the change")).click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("You selected 3 users.")
    expect(dialog).to_contain_text("These change: agency.01, agency.02, agency.30.")
    dialog.get_by_role("button", name=re.compile("^Disable")).click()
    expect(dialog).to_be_hidden()
    states = _active_usernames(live)
    assert sorted(n for n, active in states.items() if not active) == [
        "agency.01", "agency.02", "agency.30",
    ]  # fmt: skip


def test_create_user_shows_password_fields_only_when_typing_one_and_a_reload_shows_nothing(
    live: LiveConsole, page: Any
) -> None:
    _admin(live, page)
    page.goto("/admin/users/new")
    password = page.get_by_label("Temporary password", exact=True)
    expect(password).to_be_hidden()
    expect(page.get_by_text("At least 12 characters")).to_be_hidden()
    page.get_by_label("Type a temporary password").check()
    expect(password).to_be_visible()
    expect(page.get_by_text("At least 12 characters")).to_be_visible()
    page.get_by_label("Generate a temporary password (shown to you once)").check()
    expect(password).to_be_hidden()

    page.get_by_label("Username").fill("once.only")
    page.get_by_label("Full name").fill("Once Only")
    page.get_by_label("E-mail address").fill("once@example.org")
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_text("It is shown only this once")).to_be_visible()
    assert re.search(r"/admin/users/\d+/created$", page.url)
    page.reload()
    expect(
        page.get_by_text("The temporary password was shown once and is not kept.")
    ).to_be_visible()
    expect(page.locator("#temporary-password")).to_have_count(0)
    assert list(_active_usernames(live)).count("once.only") == 1


def test_a_reset_password_is_shown_once_and_a_reload_or_back_neither_shows_nor_resets_it(
    live: LiveConsole, page: Any
) -> None:
    _admin(live, page)
    user_id = create_user(live.app, "forgot.again", ("Clinician",), full_name="Forgot Again")
    page.goto(f"/admin/users/{user_id}")
    page.get_by_role("link", name="Reset password").click()
    dialog = page.get_by_role("dialog", name="Reset the password: forgot.again")
    dialog.get_by_label("Generate a temporary password (shown to you once)").check()
    dialog.get_by_role("button", name="Reset password").click()
    expect(
        page.get_by_role("heading", name="New temporary password for forgot.again")
    ).to_be_visible()
    assert re.search(rf"/admin/users/{user_id}/new-password$", page.url)
    temporary = page.locator("#temporary-password").inner_text().strip()
    assert temporary and temporary not in page.url
    with live.app.app_context():
        hash_after_reset = db.session.get(User, user_id).password_hash  # type: ignore[union-attr]

    page.reload()
    expect(
        page.get_by_text("The temporary password was shown once and is not kept.")
    ).to_be_visible()
    expect(page.locator("#temporary-password")).to_have_count(0)
    assert temporary not in page.content()
    page.go_back()
    page.wait_for_load_state()
    assert temporary not in page.content()
    with live.app.app_context():
        assert db.session.get(User, user_id).password_hash == hash_after_reset  # type: ignore[union-attr]


def test_ticked_users_survive_a_reload_until_the_change_is_done_or_cancelled(
    live: LiveConsole, page: Any
) -> None:
    for i in range(1, 31):
        create_user(live.app, f"locum.{i:02d}", ("Clinician",))
    _admin(live, page)
    page.goto("/admin/users?q=locum&per_page=25")
    page.get_by_label("Select locum.01").check()
    page.locator("#page-next").click()
    page.get_by_label("Select locum.30").check()
    ticked = page.locator("#bulk-ticked")
    expect(ticked).to_have_text("2 users ticked (1 on other pages).")

    page.reload()  # F5 on the second page
    expect(page.get_by_label("Select locum.30")).to_be_checked()
    expect(ticked).to_have_text("2 users ticked (1 on other pages).")
    expect(page.locator("#bulk-panel")).to_have_attribute("open", "")
    page.locator("#page-first").click()
    expect(page.get_by_label("Select locum.01")).to_be_checked()

    # Cancelling the review drops the selection, for good.
    page.get_by_label("Action").select_option(label="Disable")
    page.get_by_role("button", name=re.compile("Review the change")).click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("You selected 2 users.")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_label("Select locum.01")).not_to_be_checked()
    expect(ticked).to_have_text("")
    page.reload()
    expect(page.get_by_label("Select locum.02")).to_be_visible()
    expect(page.get_by_label("Select locum.01")).not_to_be_checked()
    expect(ticked).to_have_text("")

    # A change carried out drops it too.
    page.get_by_label("Select locum.02").check()
    page.reload()
    expect(page.get_by_label("Select locum.02")).to_be_checked()
    page.get_by_label("Action").select_option(label="Disable")
    page.get_by_role("button", name=re.compile("Review the change")).click()
    page.get_by_role("dialog").get_by_role("button", name=re.compile("^Disable")).click()
    expect(page.locator("#admin-message")).to_have_text("Disabled 1 user.")
    page.reload()
    expect(page.get_by_label("Select locum.03")).to_be_visible()
    expect(page.get_by_label("Select locum.02")).not_to_be_checked()
    expect(ticked).to_have_text("")
    assert [n for n, active in _active_usernames(live).items() if not active] == ["locum.02"]
