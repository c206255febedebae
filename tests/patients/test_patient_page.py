"""The patient page: banner and details, missing and gone records, failures and its audit."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from console.sandbox.patients import generate_patients
from tests.support.audit import audit_rows
from tests.support.fhir import Hapi
from tests.support.patients import (
    FAULTS,
    HX,
    body,
    break_the_audit_table,
    mary,
    person,
    set_settings,
)


def test_patient_page_shows_the_banner_and_details(clinician: FlaskClient, hapi: Hapi) -> None:
    [pid] = hapi.app.seed([mary()])
    response = clinician.get(f"/patients/{pid}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = body(response)
    banner = page[page.index('class="patient-banner') : page.index("</section>")]
    assert "JONES, Mary Anne (Mrs)" in banner
    assert re.search(r"Born</dt> <dd>01-Jan-1970 \(\d+y\)", banner)
    assert "Gender</dt> <dd>Female" in banner
    assert "401 023 2137" in banner and 'data-copy="4010232137"' in banner
    assert "<dt>NHS number</dt>" in page and "<dt>Hospital number</dt>" in page and "RX123" in page
    assert "Mary Evans" in page and "until 1995" in page
    assert "Mobile phone" in page and "07700 900123" in page
    assert "1 High Street" in page and "LS1 4AP" in page
    assert "Riverside Medical Practice" in page and "Y90001" in page
    assert "Tom Jones" in page and "Next of kin" in page
    assert "<dt>Version</dt><dd>1</dd>" in page
    assert re.search(r"<dt>Last updated</dt><dd>\d{2}-[A-Z][a-z]{2}-\d{4} \d{2}:\d{2}</dd>", page)
    assert page.count("Times are UK time") == 1, "the time zone is stated once"
    assert (
        '<details class="fhir-resource">' in page
        and "&#34;resourceType&#34;: &#34;Patient&#34;" in page
    )


def test_the_patient_page_costs_one_fhir_request(clinician: FlaskClient, hapi: Hapi) -> None:
    [pid] = hapi.app.seed([mary()])
    hapi.server.injector.reset_counts()
    assert clinician.get(f"/patients/{pid}").status_code == 200
    assert hapi.requests_to() == [("GET", f"/fhir/Patient/{pid}")]


def test_identifiers_are_labelled_by_known_system_else_the_raw_system(
    clinician: FlaskClient, hapi: Hapi
) -> None:
    patient = mary()
    patient["identifier"] += [
        {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "Y90001"},
        {"system": "urn:oid:2.16.840.1.113883.2.1.3.2.4.18.23", "value": "LOCAL-7"},
    ]
    [pid] = hapi.app.seed([patient])
    page = body(clinician.get(f"/patients/{pid}"))
    assert "<dt>NHS number</dt>\n      <dd>401 023 2137" in page
    assert "<dt>ODS organisation code</dt>" in page
    assert "<dt>urn:oid:2.16.840.1.113883.2.1.3.2.4.18.23</dt>" in page and "LOCAL-7" in page


def test_pages_are_not_cached_and_htmx_keeps_no_history_copy(
    clinician: FlaskClient, hapi: Hapi
) -> None:
    [pid] = hapi.app.seed([mary()])
    gone = hapi.app.seed([person("Gone")])[0]
    hapi.app.delete("Patient", gone)
    for url, headers in [
        ("/patients/", {}),
        ("/patients/?q=jones", {}),
        ("/patients/?q=jones", HX),
        ("/patients/?q=9434765918", {}),
        (f"/patients/{pid}", {}),
        (f"/patients/{gone}", {}),
        ("/patients/404404", {}),
    ]:
        response = clinician.get(url, headers=headers)
        assert response.headers["Cache-Control"] == "no-store", url
        if not headers:
            assert '"historyCacheSize": 0' in body(response), url


def test_missing_values_read_not_known(clinician: FlaskClient, hapi: Hapi) -> None:
    [pid] = hapi.app.seed([{"resourceType": "Patient"}])
    page = body(clinician.get(f"/patients/{pid}"))
    banner = page[page.index('class="patient-banner') : page.index("</section>")]
    assert "Name not known" in banner
    assert banner.count("Not known") >= 3  # born, gender, NHS No.
    assert "?" not in re.sub(r"<[^>]+>", "", banner)


def test_deceased_patients_are_marked(clinician: FlaskClient, hapi: Hapi) -> None:
    [pid] = hapi.app.seed([{**mary(), "deceasedDateTime": "2020-03-04T10:00:00+00:00"}])
    page = body(clinician.get(f"/patients/{pid}"))
    assert 'class="patient-banner deceased"' in page
    assert "Deceased" in page and "This patient has died (04-Mar-2020)" in page
    assert "01-Jan-1970 (50y)" in page, "age at death"
    results = body(clinician.get("/patients/?q=jones"))
    assert "Deceased" in results


def test_an_inactive_record_is_marked(clinician: FlaskClient, hapi: Hapi) -> None:
    inactive, active, unknown = hapi.app.seed(
        [{**mary(), "active": False}, {**mary(), "active": True}, mary()]
    )
    assert "marked inactive" in body(clinician.get(f"/patients/{inactive}"))
    assert "marked inactive" not in body(clinician.get(f"/patients/{active}"))
    assert "marked inactive" not in body(clinician.get(f"/patients/{unknown}"))


def test_deleted_patient(clinician: FlaskClient, hapi: Hapi) -> None:
    [pid] = hapi.app.seed([mary()])
    hapi.app.delete("Patient", pid)
    response = clinician.get(f"/patients/{pid}")
    assert response.status_code == 410
    page = body(response)
    assert "This record was deleted" in page
    assert "Resource was deleted at" in page
    assert "JONES" not in page


@pytest.mark.parametrize("patient_id", ["999999", "no-such-patient", "bad$id"])
def test_unknown_patient(clinician: FlaskClient, patient_id: str) -> None:
    response = clinician.get(f"/patients/{patient_id}")
    assert response.status_code == 404
    assert "No patient record was found" in body(response)


@pytest.mark.parametrize(("faults", "status", "message"), FAULTS[:3])
def test_upstream_faults_reach_the_patient_page(
    clinician: FlaskClient, hapi: Hapi, faults: dict[str, Any], status: int, message: str
) -> None:
    [pid] = hapi.app.seed([mary()])
    hapi.server.set_faults(**faults)
    response = clinician.get(f"/patients/{pid}")
    assert response.status_code == status
    page = body(response)
    assert message in page and "Try again" in page and f'href="/patients/{pid}"' in page


def test_an_unreachable_or_hanging_server_on_the_patient_page(
    console: Flask, clinician: FlaskClient, hapi: Hapi
) -> None:
    [pid] = hapi.app.seed([mary()])
    set_settings(console, **{"clinical.fhir_read_timeout_seconds": 0.5})
    hapi.server.set_faults(hang=True)
    response = clinician.get(f"/patients/{pid}")
    assert response.status_code == 504
    assert "took too long to answer" in body(response) and "Try again" in body(response)
    hapi.server.clear_faults()
    hapi.server.refuse_connections()
    response = clinician.get(f"/patients/{pid}")
    assert response.status_code == 503
    page = body(response)
    assert "could not connect" in page and "Technical details" in page
    assert "JONES" not in page and "No patient record was found" not in page


def test_each_patient_view_is_audited(console: Flask, clinician: FlaskClient, hapi: Hapi) -> None:
    [pid] = hapi.app.seed([mary()])
    clinician.get(f"/patients/{pid}")
    clinician.get("/patients/404404")
    rows = audit_rows(console, "patient.view")
    assert [(r.patient_id, r.target_type, r.target_id, r.outcome) for r in rows] == [
        (pid, "Patient", pid, "success"),
        ("404404", "Patient", "404404", "failure"),
    ]


def test_no_patient_page_without_an_audit_row(
    console: Flask, clinician: FlaskClient, hapi: Hapi
) -> None:
    [pid] = hapi.app.seed([mary()])
    break_the_audit_table(console)
    response = clinician.get(f"/patients/{pid}")
    assert response.status_code == 503
    page = body(response)
    assert "could not record this access in the audit log" in page
    assert "JONES" not in page and "401 023 2137" not in page and "Mary" not in page


def test_load_patient_for_other_pages(console: Flask, hapi: Hapi) -> None:
    from console.fhir import FhirGone, FhirNotFound
    from console.patients.services import load_patient

    [pid, gone] = hapi.app.seed(generate_patients(2, seed=1))
    hapi.app.delete("Patient", gone)
    with console.test_request_context():
        assert load_patient(pid).id == pid
        with pytest.raises(FhirNotFound):
            load_patient("nope")
        with pytest.raises(FhirGone):
            load_patient(gone)
    assert audit_rows(console) == [], "the caller audits its own view"
