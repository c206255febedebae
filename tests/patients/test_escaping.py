"""Hostile FHIR records and diagnostics on the search and patient pages: always escaped."""

from __future__ import annotations

import json

from flask.testing import FlaskClient

from tests.support.fhir import Hapi
from tests.support.patients import (
    HX,
    NHS,
    XSS,
    body,
    hostile,
)


def test_every_displayed_field_is_escaped(clinician: FlaskClient, hapi: Hapi) -> None:
    [pid] = hapi.app.seed([hostile()])
    results = body(clinician.get("/patients/?q=xss"))
    assert f'href="/patients/{pid}"' in results
    page = body(clinician.get(f"/patients/{pid}"))
    for rendered in (results, page):
        assert "<script>alert" not in rendered
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered
    assert page.count("&lt;script&gt;") >= 15


def test_record_metadata_and_search_input_are_escaped(clinician: FlaskClient, hapi: Hapi) -> None:
    resource = {
        **hostile(),
        "id": "1000",
        "meta": {"versionId": XSS, "lastUpdated": XSS},
        "deceasedDateTime": "2020-01-01",
        "identifier": [{"system": NHS, "value": '" onclick="alert(1)'}],
    }
    hapi.server.set_faults(
        status=200, body=json.dumps(resource), content_type="application/fhir+json"
    )
    page = body(clinician.get("/patients/1000"))
    assert "<script>alert" not in page
    assert "<dt>Version</dt><dd>&lt;script&gt;" in page
    assert "<dt>Last updated</dt><dd>&lt;script&gt;" in page
    assert 'onclick="alert' not in page and "&#34; onclick=&#34;alert(1)" in page
    hapi.server.clear_faults()
    for headers in ({}, HX):
        answer = body(clinician.get("/patients/", query_string={"q": XSS}, headers=headers))
        assert "<script>alert" not in answer


def test_an_absurdly_nested_resource_is_not_a_crash(clinician: FlaskClient, hapi: Hapi) -> None:
    depth = 900
    nested = '{"resourceType": "Patient", "id": "1000", "extension": ' + "[" * depth
    hapi.server.set_faults(
        status=200, body=nested + "]" * depth + "}", content_type="application/fhir+json"
    )
    response = clinician.get("/patients/1000")
    assert response.status_code == 200, "deep but readable: shown"
    assert '<details class="fhir-resource">' in body(response)
    hapi.server.set_faults(
        status=200, body="[" * 100_000 + "]" * 100_000, content_type="application/fhir+json"
    )
    response = clinician.get("/patients/1000")
    assert response.status_code == 502
    assert "could not read" in body(response)


def test_upstream_diagnostics_are_escaped(clinician: FlaskClient, hapi: Hapi) -> None:
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "x", "diagnostics": XSS}],
    }
    hapi.server.set_faults(
        status=400, body=json.dumps(outcome), content_type="application/fhir+json"
    )
    for headers in ({}, HX):
        page = body(clinician.get("/patients/?q=jones", headers=headers))
        assert "<script>alert" not in page and "&lt;script&gt;" in page
