"""Names refuse control and invisible characters (Cc, Cf, line and paragraph separators), on
the forms that create and edit users and roles, as the settings already do."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from sqlalchemy import select

from console.db import db
from console.db.models import Role, User
from tests.support.admin import Admin, insert_users

HOSTILE = ["Eve\nAdmin", "Eve\tAdmin", "Eve\u202enimdA", "Eve\u200bAdmin", "Eve\u2028Admin",
           "Eve\u2029Admin", "Eve\x7fAdmin"]  # fmt: skip
MESSAGE = "Remove the control or invisible characters"


@pytest.mark.parametrize("name", HOSTILE)
def test_user_and_role_names_refuse_hidden_characters(app: Flask, admin: Admin, name: str) -> None:
    created = admin.post("/admin/users/new", {"username": "eve", "full_name": name,
                                             "email": "eve@example.org", "password_mode": "generate"})  # fmt: skip
    assert created.status_code == 400 and MESSAGE in created.get_data(as_text=True)
    (user_id,) = insert_users(app, [{"username": "plain"}])
    html = admin.get(f"/admin/users/{user_id}").get_data(as_text=True)
    version = re.search(r'name="version"[^>]*value="(\d+)"', html)
    assert version
    edited = admin.post(f"/admin/users/{user_id}", {"version": version.group(1), "full_name": name,
                                                     "email": "plain@example.org", "active": "y"})  # fmt: skip
    assert edited.status_code == 400 and MESSAGE in edited.get_data(as_text=True)
    role = admin.post("/admin/roles/new", {"name": name, "permissions": ["patients.search"]})
    assert role.status_code == 400 and MESSAGE in role.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(User).where(User.username == "eve")) is None
        assert db.session.get(User, user_id).full_name == "Plain"  # type: ignore[union-attr]
        assert db.session.scalar(select(Role).where(Role.name.like("Eve%"))) is None


def test_a_role_description_may_have_line_breaks(admin: Admin) -> None:
    response = admin.post(
        "/admin/roles/new", {"name": "Ward clerk", "description": "Front desk\r\nWard 7"}
    )
    assert response.status_code == 302
