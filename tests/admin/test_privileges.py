"""Administrative power never grows by one's own hand: partial administrators cannot make
themselves (or anyone) more powerful than they are; refusals are shown and audited as denied."""

from __future__ import annotations

import re

from flask import Flask
from sqlalchemy import select

from console.db import db
from console.db.models import Role, RolePermission, User
from tests.support.admin import Admin, insert_users, signed_in
from tests.support.audit import audit_rows
from tests.support.users import role_id


def make_role(app: Flask, name: str, permissions: tuple[str, ...]) -> int:
    with app.app_context():
        role = Role(name=name, permissions=[RolePermission(permission=p) for p in permissions])
        db.session.add(role)
        db.session.commit()
        return role.id


def roles_of(app: Flask, user_id: int) -> list[str]:
    with app.app_context():
        user = db.session.get(User, user_id)
        assert user is not None
        return sorted(role.name for role in user.roles)


def permissions_of(app: Flask, role: int) -> list[str]:
    with app.app_context():
        found = db.session.get(Role, role)
        assert found is not None
        return found.permission_names


def edit_fields(admin: Admin, user_id: int) -> dict[str, str]:
    html = admin.get(f"/admin/users/{user_id}").get_data(as_text=True)
    version = re.search(r'name="version"[^>]*value="(\d+)"', html)
    original = re.search(r'name="original"[^>]*value="([^"]*)"', html)
    assert version and original, html
    return {"version": version.group(1), "original": original.group(1).replace("&#34;", '"')}


def user_manager(app: Flask) -> Admin:
    make_role(app, "User manager", ("users.manage",))
    return signed_in(app, "manager", ("User manager",))


def test_a_user_manager_cannot_make_itself_a_system_administrator(app: Flask) -> None:
    manager = user_manager(app)
    admin_role = role_id(app, "System administrator")
    own_role = role_id(app, "User manager")
    form = edit_fields(manager, manager.user_id)
    response = manager.post(
        f"/admin/users/{manager.user_id}",
        form
        | {
            "full_name": "Manager",
            "email": "manager@example.org",
            "active": "y",
            "roles": [str(own_role), str(admin_role)],
        },
    )
    assert response.status_code == 403
    assert "You cannot change your own roles" in response.get_data(as_text=True)
    assert roles_of(app, manager.user_id) == ["User manager"]
    denied = audit_rows(app, "user.update")
    assert [(e.outcome, e.target_id) for e in denied] == [("denied", str(manager.user_id))]


def test_a_user_manager_cannot_assign_roles_beyond_its_own_power(app: Flask) -> None:
    manager = user_manager(app)
    other = insert_users(app, [{"username": "colleague"}], roles=("Clinician",))[0]
    admin_role = role_id(app, "System administrator")
    form = edit_fields(manager, other)
    base = {"full_name": "Colleague", "email": "colleague@example.org", "active": "y"}
    response = manager.post(
        f"/admin/users/{other}",
        form | base | {"roles": [str(role_id(app, "Clinician")), str(admin_role)]},
    )
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "You cannot assign the role “System administrator”" in page
    assert roles_of(app, other) == ["Clinician"]
    event = audit_rows(app, "user.update")[-1]
    assert event.outcome == "denied" and "roles.manage" in event.details["missing"]

    created = manager.post(
        "/admin/users/new",
        {"username": "new.admin", "full_name": "New Admin", "email": "new.admin@example.org",
         "roles": [str(admin_role)], "password_mode": "generate"},
    )  # fmt: skip
    assert created.status_code == 403
    with app.app_context():
        assert db.session.scalar(select(User).where(User.username == "new.admin")) is None
    assert audit_rows(app, "user.create")[-1].outcome == "denied"

    bulk = {"action": "assign_role", "scope": "selected", "ids": [str(other)],
            "role_id": str(admin_role)}  # fmt: skip
    refused = manager.post("/admin/users/bulk", bulk)
    assert refused.status_code == 403
    assert roles_of(app, other) == ["Clinician"]
    assert audit_rows(app, "user.role_assign")[-1].outcome == "denied"


def test_clinical_roles_can_be_granted_by_any_user_manager(app: Flask) -> None:
    manager = user_manager(app)
    other = insert_users(app, [{"username": "new.doctor"}])[0]
    form = edit_fields(manager, other)
    response = manager.post(
        f"/admin/users/{other}",
        form
        | {
            "full_name": "Doctor",
            "email": "new.doctor@example.org",
            "active": "y",
            "roles": [str(role_id(app, "Clinician"))],
        },
    )
    assert response.status_code == 302
    assert roles_of(app, other) == ["Clinician"]


def test_a_role_manager_cannot_add_permissions_it_does_not_hold(app: Flask) -> None:
    own = make_role(app, "Role keeper", ("roles.manage",))
    keeper = signed_in(app, "keeper", ("Role keeper",))
    html = keeper.get(f"/admin/roles/{own}").get_data(as_text=True)
    version = re.search(r'name="version"[^>]*value="(\d+)"', html)
    assert version
    response = keeper.post(
        f"/admin/roles/{own}",
        {"version": version.group(1), "name": "Role keeper",
         "permissions": ["roles.manage", "users.manage", "settings.manage"]},
    )  # fmt: skip
    assert response.status_code == 403
    assert "You cannot add settings.manage, users.manage to a role" in response.get_data(
        as_text=True
    )
    assert permissions_of(app, own) == ["roles.manage"]
    assert audit_rows(app, "role.update")[-1].outcome == "denied"

    created = keeper.post(
        "/admin/roles/new", {"name": "Sneaky", "permissions": ["roles.manage", "audit.view"]}
    )
    assert created.status_code == 403
    with app.app_context():
        assert db.session.scalar(select(Role).where(Role.name == "Sneaky")) is None
    # What it holds, and clinical access, it may hand on.
    allowed = keeper.post(
        "/admin/roles/new", {"name": "Helpers", "permissions": ["roles.manage", "patients.view"]}
    )
    assert allowed.status_code == 302
