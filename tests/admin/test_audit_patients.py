"""The audit log answers "who looked at this patient?": NHS number and name recorded at view
time, a patient filter by NHS number or name, the export's columns, readable details, and
who tried a failed sign-in."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from flask import Flask

from tests.support.admin import BASE, Admin, add_events, insert_users, shown_actions


def _patient_events(app: Flask) -> None:
    (nurse,) = insert_users(app, [{"username": "nurse", "full_name": "Nina Nurse"}])
    add_events(app, [
        {"action": "patient.view", "actor_id": nurse, "patient_id": "1285",
         "target_type": "Patient", "target_id": "1285",
         "patient_nhs_number": "9434765919", "patient_name": "ROBINSON, Zara (Mrs)"},
        {"action": "letter.view", "actor_id": nurse, "patient_id": "77",
         "target_type": "Composition", "target_id": "abc::x::1",
         "patient_nhs_number": "4010232137", "patient_name": "JONES, Mary Anne",
         "occurred_at": BASE + timedelta(seconds=1)},
    ])  # fmt: skip


def test_the_log_shows_the_patient_as_the_banner_did(app: Flask, admin: Admin) -> None:
    _patient_events(app)
    page = admin.get("/admin/audit?action=patient.view").get_data(as_text=True)
    assert "ROBINSON, Zara (Mrs) (NHS No. 943 476 5919)" in page
    assert "Patient 1285" not in page


def test_the_patient_filter_takes_an_nhs_number_in_any_spacing(app: Flask, admin: Admin) -> None:
    _patient_events(app)
    for typed in ("9434765919", "943 476 5919", "943-476-5919"):
        response = admin.get("/admin/audit", query_string={"patient": typed})
        page = response.get_data(as_text=True)
        assert response.status_code == 200
        assert [a for a in shown_actions(page) if a != "auth.sign_in"] == ["patient.view"]
        assert 'value="943 476 5919"' in page, "shown back formatted 3-3-4"


def test_an_invalid_nhs_number_in_the_filter_is_explained(admin: Admin) -> None:
    response = admin.get("/admin/audit", query_string={"patient": "943 476 5918"})
    assert response.status_code == 400
    assert "not a valid NHS number" in response.get_data(as_text=True)


def test_the_patient_filter_takes_a_name_or_a_record_id(app: Flask, admin: Admin) -> None:
    _patient_events(app)

    def actions(typed: str) -> list[str]:
        page = admin.get("/admin/audit", query_string={"patient": typed}).get_data(as_text=True)
        return [a for a in shown_actions(page) if a != "auth.sign_in"]

    assert actions("robinson") == ["patient.view"]
    assert actions("zara robinson") == ["patient.view"]
    assert actions("Mary Jones") == ["letter.view"]
    assert actions("77") == ["letter.view"]
    assert actions("smith") == []
    assert actions("%") == [], "a LIKE wildcard is taken literally"


def test_the_export_carries_the_patient_columns(app: Flask, admin: Admin) -> None:
    _patient_events(app)
    body = admin.get("/admin/audit/export.csv?action=patient.view").get_data()
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["Patient NHS number"] == "943 476 5919"
    assert row["Patient name"] == "ROBINSON, Zara (Mrs)"


def test_a_failed_sign_in_shows_the_username_typed(app: Flask, admin: Admin) -> None:
    add_events(app, [{"action": "auth.sign_in", "outcome": "failure",
                      "details": {"username": "eve", "reason": "unknown user"}}])  # fmt: skip
    page = admin.get("/admin/audit?action=auth.sign_in&outcome=failure").get_data(as_text=True)
    assert "eve (sign-in attempt)" in page
    assert "System" not in page.split("<tbody>")[1]


def test_details_are_readable_labels_not_json(app: Flask, admin: Admin) -> None:
    add_events(app, [{"action": "patient.search", "details": {
        "criteria": {"name": "smith", "birthdate": ["1970"]}, "kind": "name", "results": 3}}])  # fmt: skip
    page = admin.get("/admin/audit?action=patient.search").get_data(as_text=True)
    assert "<dt>Searched for</dt><dd>Name: smith; Birthdate: 1970</dd>" in page
    assert "<dt>Results</dt><dd>3</dd>" in page
    assert "&#34;criteria&#34;" not in page and '"criteria"' not in page
