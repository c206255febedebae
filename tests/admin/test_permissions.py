"""Every administration route and action checks its permission on the server (403, not a
hidden button), and a refused request changes nothing."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from sqlalchemy import select

from console.db import db
from console.db.models import User
from console.permissions import PERMISSIONS
from tests.support.admin import Admin, add_session, insert_users, signed_in
from tests.support.audit import audit_count, audit_rows


def admin_routes(app: Flask, user_id: int = 1) -> list[tuple[str, str, str, str]]:
    """(endpoint, method, url, permission) for every route of the admin blueprint."""
    samples = {"user_id": user_id, "role_id": 4, "action": "disable", "service": "fhir"}
    routes = []
    with app.test_request_context():
        from flask import url_for

        for rule in app.url_map.iter_rules():
            if not rule.endpoint.startswith("admin."):
                continue
            values = {name: samples[name] for name in rule.arguments}
            url = url_for(rule.endpoint, **values)
            permission = app.view_functions[rule.endpoint].required_permission
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                routes.append((rule.endpoint, method, url, permission))
    return routes


def snapshot(app: Flask) -> list[tuple[str, bool, int, bool]]:
    with app.app_context():
        return [(u.username, u.active, u.version, u.must_change_password)
                for u in db.session.scalars(select(User).order_by(User.id))]  # fmt: skip


def test_every_admin_route_declares_an_admin_permission(app: Flask) -> None:
    routes = admin_routes(app)
    assert len({r[0] for r in routes}) >= 20
    assert {r[3] for r in routes} == {"users.manage", "roles.manage", "sessions.manage",
                                      "settings.manage", "audit.view"}  # fmt: skip
    assert all(r[3] in PERMISSIONS for r in routes)


def test_a_clinician_gets_403_on_every_admin_route_and_action(
    any_app_factory: Callable[..., Flask],
) -> None:
    app = any_app_factory()
    (target,) = insert_users(app, [{"username": "target"}], roles=("Clinician",))
    add_session(app, target)
    clinician = signed_in(app, "clin", ("Clinician",))
    before, events = snapshot(app), audit_count(app)
    form = {"action": "disable", "scope": "filter", "expected": "3", "key": "clinical.fhir_page_size",
            "clinical.fhir_page_size": "99", "name": "Hijack", "permissions": ["users.manage"],
            "user_id": str(target), "full_name": "X", "email": "x@example.org", "version": "1",
            "username": "intruder", "password_mode": "generate"}  # fmt: skip
    checked = 0
    for endpoint, method, url, _permission in admin_routes(app, target):
        for htmx in (False, True):
            if method == "GET":
                response = clinician.get(url, htmx=htmx)
            else:
                response = clinician.post(url, form, htmx=htmx)
            assert response.status_code == 403, (endpoint, method, url, htmx)
            assert "Not allowed" in response.get_data(as_text=True)
            checked += 1
    assert checked >= 50
    assert snapshot(app) == before
    # Nothing was changed, and each refusal is itself an audit event: who, the route, and the
    # permission that was missing.
    denied = audit_rows(app)[events:]
    assert len(denied) == checked
    assert {(e.action, e.outcome, e.actor_username) for e in denied} == {
        ("access.denied", "denied", "clin")
    }
    assert {e.details["route"] for e in denied} >= {"/admin/users", "/admin/users/new"}
    assert {e.details["missing_permission"] for e in denied} >= {
        "users.manage",
        "roles.manage",
        "settings.manage",
        "sessions.manage",
        "audit.view",
    }


def test_signed_out_requests_go_to_sign_in(app: Flask) -> None:
    client = app.test_client()
    for _endpoint, method, url, _permission in admin_routes(app):
        if method != "GET":
            continue
        response = client.get(url)
        assert response.status_code == 302 and "/auth/login" in response.headers["Location"], url


def test_each_admin_area_needs_its_own_permission(app: Flask) -> None:
    auditor = signed_in(app, "aud", ("Auditor",))
    assert auditor.get("/admin/audit").status_code == 200
    assert auditor.get("/admin/audit/export.csv").status_code == 200
    for path in ("/admin/users", "/admin/roles", "/admin/sessions", "/admin/settings"):
        assert auditor.get(path).status_code == 403, path
    insert_users(app, [{"username": "sessions.only"}])
    app_role = signed_in(app, "roles.person", ("System administrator",))
    assert app_role.post("/admin/roles/new", {"name": "Session keepers",
                                              "permissions": ["sessions.manage"]}).status_code == 302  # fmt: skip
    keeper = signed_in(app, "keeper", ("Session keepers",))
    assert keeper.get("/admin/sessions").status_code == 200
    assert keeper.get("/admin/users").status_code == 403
    assert keeper.post("/admin/sessions/end-user", {"user_id": "1"}).status_code == 302


def test_navigation_lists_only_the_areas_a_user_may_open(app: Flask, admin: Admin) -> None:
    page = admin.get("/").get_data(as_text=True)
    for path in (
        "/admin/users",
        "/admin/roles",
        "/admin/sessions",
        "/admin/settings",
        "/admin/audit",
    ):
        assert f'href="{path}"' in page
    auditor = signed_in(app, "aud", ("Auditor",))
    page = auditor.get("/").get_data(as_text=True)
    assert 'href="/admin/audit"' in page and 'href="/admin/users"' not in page
