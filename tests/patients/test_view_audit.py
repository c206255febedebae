"""A patient view's audit row names the patient as the banner did; holders of audit.view see
"Who has viewed this record" on the patient page, linking to the filtered log."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from tests.support.audit import audit_rows
from tests.support.fhir import Hapi
from tests.support.patients import body, mary


def test_the_view_is_recorded_with_the_nhs_number_and_banner_name(
    console: Flask, clinician: FlaskClient, hapi: Hapi
) -> None:
    [pid] = hapi.app.seed([mary()])
    assert clinician.get(f"/patients/{pid}").status_code == 200
    [row] = audit_rows(console, "patient.view")
    assert row.patient_id == pid
    assert row.patient_nhs_number == "4010232137"
    assert row.patient_name == "JONES, Mary Anne (Mrs)"


def test_an_odd_nhs_number_is_not_recorded_as_one(
    console: Flask, clinician: FlaskClient, hapi: Hapi
) -> None:
    odd = mary()
    odd["identifier"] = [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "<b>1234</b>"}]
    [pid] = hapi.app.seed([odd])
    assert clinician.get(f"/patients/{pid}").status_code == 200
    [row] = audit_rows(console, "patient.view")
    assert row.patient_nhs_number is None and row.patient_name == "JONES, Mary Anne (Mrs)"


def test_auditors_see_who_has_viewed_the_record(
    console: Flask, signed_in: Callable[..., FlaskClient], hapi: Hapi
) -> None:
    [pid] = hapi.app.seed([mary()])
    clinician = signed_in(("Clinician",))
    assert clinician.get(f"/patients/{pid}").status_code == 200
    page = body(clinician.get(f"/patients/{pid}"))
    assert "Who has viewed this record" not in page, "only for holders of audit.view"

    auditor = signed_in(("Clinician", "Auditor"))
    page = body(auditor.get(f"/patients/{pid}"))
    assert "Who has viewed this record" in page
    section = page.split('id="viewers-heading"')[1]
    assert section.count("Patient record viewed") == 3, "two views before, and this one"
    assert "User1 (user1)" in section
    assert f'href="/admin/audit?patient={pid}"' in section
    log = body(auditor.get(f"/admin/audit?patient={pid}"))
    assert log.count("JONES, Mary Anne (Mrs) (NHS No. 401 023 2137)") == 3
