"""The audit log shows the actor's and target's names as they were at the time of the event;
rows written before names were stored are filled from the names current at the upgrade."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import text

from console import create_app
from console.db import db
from tests.support.admin import Admin
from tests.support.audit import audit_rows
from tests.support.environment import base_config
from tests.support.users import make_user


def test_renaming_an_account_does_not_relabel_its_history(app: Flask, admin: Admin) -> None:
    user_id = make_user(app, "bob", full_name="Bob Before")
    html = admin.get(f"/admin/users/{user_id}").get_data(as_text=True)
    version = re.search(r'name="version"[^>]*value="(\d+)"', html)
    assert version
    renamed = admin.post(f"/admin/users/{user_id}", {"version": version.group(1), "active": "y",
                                                      "full_name": "Robert After",
                                                      "email": "bob@example.org",
                                                      "roles": ["2"]})  # fmt: skip
    assert renamed.status_code == 302
    [created] = [e for e in audit_rows(app, "user.create") if e.target_id == str(user_id)]
    assert created.target_display_name == "Bob Before (bob)"
    [update] = audit_rows(app, "user.update")
    assert update.actor_display_name == "Root (root)"
    assert update.target_display_name == "Robert After (bob)"
    page = admin.get("/admin/audit?action=user.create").get_data(as_text=True)
    assert "Bob Before (bob)" in page and "Robert After" not in page
    csv = admin.get("/admin/audit/export.csv?action=user.create").get_data(as_text=True)
    assert "Bob Before (bob)" in csv and "Robert After" not in csv


def test_the_upgrade_fills_names_into_older_rows(tmp_path: Path) -> None:
    app = create_app(base_config(tmp_path, f"sqlite:///{tmp_path / 'old.sqlite3'}"))
    with app.app_context():
        upgrade(revision="3b7c1e9a4d20")  # before names were stored
        db.session.execute(text(
            "INSERT INTO users (id, username, email, full_name, password_hash, active,"
            " totp_enabled, failed_login_count, must_change_password, must_enrol_totp,"
            " created_at, updated_at, version) VALUES (7, 'ann', 'ann@example.org', 'Ann Old',"
            " 'x', 1, 0, 0, 0, 0, '2026-01-01', '2026-01-01', 1)"
        ))  # fmt: skip
        db.session.execute(text(
            "INSERT INTO audit_events (occurred_at, actor_id, actor_username, action, outcome,"
            " target_type, target_id) VALUES ('2026-01-02', 7, 'ann', 'user.update', 'success',"
            " 'user', '7'), ('2026-01-02', NULL, NULL, 'role.update', 'success', 'role', '1')"
        ))  # fmt: skip
        db.session.commit()
        upgrade()
        rows = db.session.execute(text(
            "SELECT actor_display_name, target_display_name FROM audit_events ORDER BY id"
        )).all()  # fmt: skip
    assert [tuple(row) for row in rows] == [
        ("Ann Old (ann)", "Ann Old (ann)"),
        (None, "role System administrator"),
    ]
