"""CSV exports: UTF-8 with BOM, formula-injection-safe cells, streamed, the view's filter and order."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from flask import Flask

from console.web.csv import BOM, safe_cell, stream_csv
from tests.support.admin import Admin, insert_users, signed_in
from tests.support.audit import audit_rows


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ("+441234", "'+441234"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tTAB", "'\tTAB"),
        ("\rCR", "'\rCR"),
        ("\n=1+1", "'\n=1+1"),
        ("\uff1dSUM(A1)", "'\uff1dSUM(A1)"),
        ("\uff20SUM(A1)", "'\uff20SUM(A1)"),
        ("plain", "plain"),
        ("a=b", "a=b"),
        ("", ""),
        (None, ""),
        (True, "yes"),
        (-5, "-5"),
        (datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "2026-01-02T03:04:05+00:00"),
    ],
)
def test_cells_that_spreadsheets_would_run_are_neutralised(value: object, cell: str) -> None:
    assert safe_cell(value) == cell


def test_stream_starts_with_the_bom_and_comes_in_chunks() -> None:
    chunks = list(stream_csv(["a", "=b"], ([i, f"row {i}"] for i in range(450))))
    assert chunks[0] == BOM + "a,'=b\r\n"
    assert len(chunks) == 4  # header, 200, 200, 50 rows
    rows = list(csv.reader(io.StringIO("".join(chunks)[1:])))
    assert len(rows) == 451 and rows[-1] == ["449", "row 449"]


def _users_export(app: Flask, admin: Admin) -> None:
    insert_users(app, [
        {"username": "exp.b", "full_name": "=cmd|' /C calc'!A0", "email": "b@example.org"},
        {"username": "exp.a", "full_name": "Ünïcødé Nämé", "email": "+a@example.org"},
        {"username": "exp.c", "full_name": "Disabled", "active": False},
        {"username": "other", "full_name": "Not Included"},
    ], roles=("Clinician", "Auditor"))  # fmt: skip
    response = admin.get("/admin/users/export.csv?q=exp&sort=username&dir=desc")
    assert response.status_code == 200 and response.is_streamed
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="users-')
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == ["Username", "Name", "E-mail", "Roles", "Active", "Locked until",
                       "Must change password", "Two-factor", "Last sign-in", "Created"]  # fmt: skip
    assert [r[0] for r in rows[1:]] == ["exp.c", "exp.b", "exp.a"]
    by_name = {r[0]: r for r in rows[1:]}
    assert by_name["exp.b"][1] == "'=cmd|' /C calc'!A0"
    assert by_name["exp.a"][1] == "Ünïcødé Nämé" and by_name["exp.a"][2] == "'+a@example.org"
    assert by_name["exp.a"][3] == "Auditor; Clinician" and by_name["exp.c"][4] == "no"
    event = audit_rows(app, "user.export")[-1]
    assert event.details == {"filter": {"q": "exp"}, "sort": "username", "dir": "desc"}


def test_users_export_follows_the_view_and_is_safe(any_app_factory: Callable[..., Flask]) -> None:
    app = any_app_factory()
    _users_export(app, signed_in(app, "root", ("System administrator",)))


def test_users_export_of_many_rows_keeps_the_keyset_order(app: Flask, admin: Admin) -> None:
    insert_users(app, [{"username": f"many{i:04}", "last_sign_in_at": None if i % 3 else
                        datetime(2026, 1, 1, tzinfo=UTC)} for i in range(1100)])  # fmt: skip
    body = admin.get("/admin/users/export.csv?q=many&sort=last_sign_in&dir=desc").get_data()
    names = [r[0] for r in csv.reader(io.StringIO(body.decode("utf-8-sig")))][1:]
    assert len(names) == 1100
    signed = [f"many{i:04}" for i in range(1098, -1, -3)]
    never = [f"many{i:04}" for i in range(1099, -1, -1) if i % 3]
    assert (
        names == signed + never
    )  # same order as the pages: ties by id (descending too), never signed in last
