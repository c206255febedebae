"""Ids and numbers from requests that cannot be right (too large for the database, digits that are
not ASCII) are "not found" or ignored, never a server error, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from console.web.query import MAX_ID, parse_id, parse_int
from tests.support.admin import Admin, insert_users, signed_in
from tests.support.audit import audit_count

HUGE = "99999999999999999999"
NOT_ASCII = "²"  # str.isdigit() says yes, int() says no


@pytest.mark.parametrize(
    ("text", "expected"),
    [("7", 7), (" 12 ", 12), (str(MAX_ID), MAX_ID), (str(MAX_ID + 1), None), (HUGE, None),
     (NOT_ASCII, None), ("١٢", None), ("0", None), ("-3", None), ("", None), (None, None)],
)  # fmt: skip
def test_parse_id(text: str | None, expected: int | None) -> None:
    assert parse_id(text) == expected


def test_parse_int_keeps_to_its_range() -> None:
    assert parse_int("0", 0, 10) == 0 and parse_int("11", 0, 10) is None


def _bad_ids(app: Flask, admin: Admin) -> None:
    (user_id,) = insert_users(app, [{"username": "kept"}])
    events = audit_count(app)
    for path in (
        f"/admin/users/{HUGE}",
        f"/admin/roles/{HUGE}",
        f"/admin/users/{HUGE}/actions/disable",
    ):
        assert admin.get(path).status_code == 404, path
    assert admin.post(f"/admin/users/{HUGE}/actions/disable").status_code == 404
    for value in (HUGE, NOT_ASCII):
        for query in ({"role": value}, {"dormant": value}, {"per_page": value}):
            assert admin.get("/admin/users", query_string=query).status_code == 200, query
        assert admin.get("/admin/audit", query_string={"per_page": value}).status_code == 200
        response = admin.post("/admin/sessions/end-user", {"user_id": value})
        assert response.status_code == 302, value
        for form, problem in (
            ({"action": "disable", "scope": "selected", "ids": value}, "Select at least one user"),
            (
                {
                    "action": "assign_role",
                    "scope": "selected",
                    "ids": str(user_id),
                    "role_id": value,
                },
                "Choose the role to assign or remove.",
            ),
        ):
            response = admin.post("/admin/users/bulk/confirm", form)
            assert response.status_code == 400, form
            assert problem in response.get_data(as_text=True)
    assert audit_count(app) == events


def test_impossible_ids_are_not_found_or_ignored(any_app_factory: Callable[..., Flask]) -> None:
    app = any_app_factory()
    _bad_ids(app, signed_in(app, "root", ("System administrator",)))
