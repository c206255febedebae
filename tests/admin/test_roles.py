"""Roles: list with permissions and members, create, rename, permissions, last-admin rule."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from sqlalchemy import select

from console.db import db
from console.db.models import Role
from tests.support.admin import Admin, insert_users, role_form, signed_in
from tests.support.audit import audit_count, audit_rows


def permissions_of(app: Flask, role_id: int) -> list[str]:
    with app.app_context():
        role = db.session.get(Role, role_id)
        assert role is not None
        return role.permission_names


def test_the_list_shows_permissions_and_member_counts(app: Flask, admin: Admin) -> None:
    insert_users(
        app, [{"username": "c1"}, {"username": "c2", "active": False}], roles=("Clinician",)
    )
    html = admin.get("/admin/roles").get_data(as_text=True)
    clinician = html[html.index(">Clinician<") :]
    clinician = clinician[: clinician.index("</tr>")]
    assert "patients.search" in clinician and "letters.view" in clinician
    assert "2 users" in clinician and "1 active" in clinician
    assert 'href="/admin/users?role=2"' in clinician
    assert 'title="Search for patients in HAPI FHIR."' in clinician


def test_create_a_role_with_permissions_from_the_catalogue(app: Flask, admin: Admin) -> None:
    page = admin.get("/admin/roles/new").get_data(as_text=True)
    assert "Read and export the audit log." in page  # each permission has its description
    response = admin.post("/admin/roles/new", {"name": "  Ward   clerk ", "description": "Front desk",
                                               "permissions": ["patients.search", "status.view"]})  # fmt: skip
    assert response.status_code == 302
    with app.app_context():
        role = db.session.scalar(select(Role).where(Role.name == "Ward clerk"))
        assert role is not None and role.permission_names == ["patients.search", "status.view"]
    event = audit_rows(app, "role.create")[0]
    assert event.after == {"name": "Ward clerk", "description": "Front desk",
                           "permissions": ["patients.search", "status.view"]}  # fmt: skip


def test_create_refuses_duplicate_names_and_unknown_permissions(app: Flask, admin: Admin) -> None:
    events = audit_count(app)
    duplicate = admin.post("/admin/roles/new", {"name": "clinician"})
    assert duplicate.status_code == 400
    assert "There is already a role called clinician." in duplicate.get_data(as_text=True)
    unknown = admin.post("/admin/roles/new", {"name": "X", "permissions": ["root.everything"]})
    assert unknown.status_code == 400 and "Choose from the list." in unknown.get_data(as_text=True)
    assert admin.post("/admin/roles/new", {"name": ""}).status_code == 400
    assert audit_count(app) == events


def test_rename_and_change_permissions_audits_before_and_after(app: Flask, admin: Admin) -> None:
    form = role_form(admin, 4) | {"name": "Auditors", "description": "Reads and exports the audit log.",
                                  "permissions": ["audit.view", "status.view"]}  # fmt: skip
    assert admin.post("/admin/roles/4", form).status_code == 302
    assert permissions_of(app, 4) == ["audit.view", "status.view"]
    event = audit_rows(app, "role.update")[0]
    assert event.before == {"name": "Auditor", "permissions": ["audit.view"]}
    assert event.after == {"name": "Auditors", "permissions": ["audit.view", "status.view"]}


def _last_admin_role(app: Flask, admin: Admin) -> None:
    admin_permissions = permissions_of(app, 1)
    events = audit_count(app)
    stripped = [p for p in admin_permissions if p != "users.manage"]
    form = role_form(admin, 1) | {"name": "System administrator", "permissions": stripped}
    response = admin.post("/admin/roles/1", form)
    assert response.status_code == 409
    assert "no active user who can manage users" in response.get_data(as_text=True)
    assert permissions_of(app, 1) == admin_permissions
    assert audit_count(app) == events
    # Once another role gives users.manage to an active user, it may go from this one.
    assert admin.post("/admin/roles/new", {"name": "User managers",
                                           "permissions": ["users.manage"]}).status_code == 302  # fmt: skip
    with app.app_context():
        managers = db.session.scalar(select(Role.id).where(Role.name == "User managers"))
    insert_users(app, [{"username": "manager"}], roles=("User managers",))
    form = role_form(admin, 1) | {"name": "System administrator", "permissions": stripped}
    assert admin.post("/admin/roles/1", form).status_code == 302
    assert "users.manage" not in permissions_of(app, 1)
    assert managers is not None


def test_users_manage_cannot_leave_the_last_role_giving_it_to_an_active_user(
    any_app_factory: Callable[..., Flask],
) -> None:
    app = any_app_factory()
    _last_admin_role(app, signed_in(app, "root", ("System administrator", "Auditor")))


def test_a_stale_role_form_gets_a_conflict(app: Flask, admin: Admin) -> None:
    mine = role_form(admin, 3)
    other = signed_in(app, "other", ("System administrator",))
    theirs = role_form(other, 3)
    other.post(
        "/admin/roles/3", theirs | {"name": "Clinical admin", "permissions": ["patients.search"]}
    )
    response = admin.post("/admin/roles/3", mine | {"name": "Clinical administrator",
                                                    "permissions": ["templates.manage"]})  # fmt: skip
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "This role was changed while you were editing" in html
    assert "Clinical admin" in html and "templates.manage" in html
    assert permissions_of(app, 3) == ["patients.search"]
    assert len(audit_rows(app, "role.update")) == 1


def test_only_roles_nobody_has_can_be_deleted(app: Flask, admin: Admin) -> None:
    insert_users(app, [{"username": "aud"}], roles=("Auditor",))
    refused = admin.post("/admin/roles/4/delete")
    assert refused.status_code == 409 and "Users still have this role" in refused.get_data(
        as_text=True
    )
    assert admin.get("/admin/roles/3/delete").status_code == 200  # confirmation page
    assert admin.post("/admin/roles/3/delete").status_code == 302
    with app.app_context():
        assert db.session.get(Role, 3) is None
        assert db.session.get(Role, 4) is not None
    assert [e.before["name"] for e in audit_rows(app, "role.delete")] == ["Clinical administrator"]
    assert admin.get("/admin/roles/3").status_code == 404
