"""A change and its audit events are one transaction: when the audit write fails, the change is
not kept either (no unaudited change, no half-done bulk action)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from console.admin.roles import services as role_service
from console.admin.settings import services as settings_service
from console.admin.users import bulk
from console.admin.users import services as user_service
from console.appsettings import get_setting
from console.db import db
from console.db.models import RolePermission, UserSession
from tests.support.admin import Admin, add_session, edit_form, form_values, insert_users, role_form
from tests.support.audit import audit_count
from tests.support.users import get_user


class AuditStoreDown(RuntimeError):
    """The audit table refused the write."""


def _fail(*_args: Any, **_kwargs: Any) -> None:
    raise AuditStoreDown("the audit table is unavailable")


def _sessions_of(app: Flask, user_id: int) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).where(UserSession.user_id == user_id)) or 0


def test_an_edit_whose_audit_event_fails_is_not_saved(
    app: Flask, admin: Admin, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_id = insert_users(app, [{"username": "kept", "full_name": "Kept Name"}])[0]
    add_session(app, user_id)
    form = edit_form(admin, user_id) | {"full_name": "Changed", "email": "kept@example.org"}
    events = audit_count(app)
    monkeypatch.setattr(user_service, "record_event", _fail)
    with pytest.raises(AuditStoreDown):
        admin.post(f"/admin/users/{user_id}", form)  # unticked "active": also a disable
    user = get_user(app, user_id)
    assert (user.full_name, user.active, user.version) == ("Kept Name", True, 1)
    assert _sessions_of(app, user_id) == 1
    assert audit_count(app) == events


def test_a_bulk_action_whose_audit_events_fail_changes_no_user(
    app: Flask, admin: Admin, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = insert_users(app, [{"username": f"bulk{i}"} for i in range(3)])
    for user_id in ids:
        add_session(app, user_id)
    events = audit_count(app)
    monkeypatch.setattr(bulk, "record_events", _fail)
    with pytest.raises(AuditStoreDown):
        admin.post(
            "/admin/users/bulk",
            admin.confirmed({"action": "disable", "scope": "filter", "q": "bulk"}),
        )
    assert all(get_user(app, user_id).active for user_id in ids)
    assert [_sessions_of(app, user_id) for user_id in ids] == [1, 1, 1]
    assert audit_count(app) == events


def test_a_role_or_setting_change_whose_audit_event_fails_is_not_kept(
    app: Flask, admin: Admin, monkeypatch: pytest.MonkeyPatch
) -> None:
    with app.app_context():
        before = set(db.session.scalars(select(RolePermission.permission).where(
            RolePermission.role_id == 4)))  # fmt: skip
    monkeypatch.setattr(role_service, "record_event", _fail)
    with pytest.raises(AuditStoreDown):
        admin.post(
            "/admin/roles/4",
            role_form(admin, 4) | {"name": "Auditor", "permissions": ["audit.view", "status.view"]},
        )
    with app.app_context():
        after = set(db.session.scalars(select(RolePermission.permission).where(
            RolePermission.role_id == 4)))  # fmt: skip
    assert after == before

    monkeypatch.setattr(settings_service, "record_event", _fail)
    with pytest.raises(AuditStoreDown):
        admin.post("/admin/settings", form_values(admin) | {"clinical.fhir_page_size": "35"})
    with app.app_context():
        assert get_setting("clinical.fhir_page_size") == 20
