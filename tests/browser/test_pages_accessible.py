"""Every main page: loads without CSP violations or script errors, passes axe-core, is captured."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask import url_for

from tests.support.browser import (
    LiveConsole,
    assert_accessible,
    axe_violations,
    create_user,
    screenshot,
    sign_in,
)

ADMIN_PAGES = (
    ("admin.roles", "admin-roles"),
    ("admin.sessions", "admin-sessions"),
    ("admin.settings", "admin-settings"),
    ("admin.audit", "admin-audit"),
    ("letters.templates", "letter-templates"),
    ("ops.status", "ops-status"),
    ("auth.account", "account"),
)


def _path(live: LiveConsole, endpoint: str) -> str | None:
    if endpoint not in live.app.view_functions:
        return None
    with live.app.test_request_context():
        return url_for(endpoint)


@pytest.mark.parametrize(("endpoint", "name"), ADMIN_PAGES, ids=[n for _, n in ADMIN_PAGES])
def test_admin_page_is_accessible(
    live: LiveConsole, page: Any, artifacts: Path, endpoint: str, name: str
) -> None:
    path = _path(live, endpoint)
    if path is None:
        pytest.skip(f"this build has no {endpoint} page")
    create_user(
        live.app,
        "page.admin",
        ("System administrator", "Clinical administrator"),
        full_name="Page Admin",
    )
    sign_in(page, "page.admin")
    response = page.goto(path)
    assert response is not None and response.status == 200, f"{path} answered {response}"
    assert_accessible(page, endpoint)
    screenshot(page, artifacts, name)


def test_admin_detail_pages_are_accessible(live: LiveConsole, page: Any, artifacts: Path) -> None:
    """The pages behind the lists: a role's edit form, a new role, deleting a role, confirming
    an action on a user, and the administrator's dashboard."""
    if "admin.role_edit" not in live.app.view_functions:
        pytest.skip("this build has no role pages")
    from sqlalchemy import select

    from console.db import db
    from console.db.models import Role

    create_user(live.app, "page.admin", ("System administrator",), full_name="Page Admin")
    nurse = create_user(live.app, "ward.nurse", ("Clinician",), full_name="Ward Nurse")
    with live.app.app_context():
        role_id = db.session.scalar(select(Role.id).where(Role.name == "Clinician"))
    with live.app.test_request_context():
        pages = {
            "admin-role-edit": url_for("admin.role_edit", role_id=role_id),
            "admin-role-create": url_for("admin.role_create"),
            "admin-role-delete": url_for("admin.role_delete", role_id=role_id),
            "admin-user-action": url_for("admin.user_action", user_id=nurse, action="disable"),
            "admin-user-sign-in": url_for("sso_admin.user_sign_in", user_id=nurse),
            "dashboard-admin": url_for("home.dashboard"),
        }
    sign_in(page, "page.admin")
    found: dict[str, Any] = {}
    for name, path in pages.items():
        response = page.goto(path)
        assert response is not None and response.status == 200, f"{path} answered {response}"
        violations = axe_violations(page)
        if violations:
            found[f"{name} ({path})"] = violations
        screenshot(page, artifacts, name)
    assert not found, "axe-core found serious or critical violations:\n" + json.dumps(
        found, indent=2
    )


def test_error_pages_are_accessible(live: LiveConsole, page: Any, artifacts: Path) -> None:
    create_user(live.app, "plain.clinician", ("Clinician",))
    sign_in(page, "plain.clinician")
    response = page.goto("/admin/users")
    assert response is not None and response.status == 403
    assert_accessible(page, "the 403 page")
    screenshot(page, artifacts, "error-403")
    response = page.goto("/no/such/page")
    assert response is not None and response.status == 404
    assert_accessible(page, "the 404 page")


def test_keyboard_focus_is_never_hidden_on_the_settings_page(live: LiveConsole, page: Any) -> None:
    """WCAG 2.2 2.4.11: tabbing through the long settings form, the sticky save bar never
    covers the field that has focus."""
    if "admin.settings" not in live.app.view_functions:
        pytest.skip("this build has no settings page")
    create_user(live.app, "settings.admin", ("System administrator",))
    sign_in(page, "settings.admin")
    page.goto(_path(live, "admin.settings") or "/")
    hidden: list[str] = []
    for _ in range(60):
        page.keyboard.press("Tab")
        state = page.evaluate(
            """() => {
                const el = document.activeElement;
                if (!el || el === document.body) { return null; }
                const r = el.getBoundingClientRect();
                const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
                return {id: el.id || el.name || el.tagName, covered: !(hit && (hit === el || el.contains(hit) || hit.contains(el) || (el.labels && [...el.labels].includes(hit)))),
                        inMain: !!el.closest('main')};
            }"""
        )
        if state and state["inMain"] and state["covered"]:
            hidden.append(state["id"])
    assert not hidden, f"focused fields covered by something else: {hidden}"
