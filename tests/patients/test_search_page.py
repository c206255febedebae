"""The patient search page: access, fields, paging, upstream failures and its audit."""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.audit import audit_rows
from tests.support.fhir import Hapi
from tests.support.patients import (
    FAULTS,
    HX,
    NHS,
    body,
    break_the_audit_table,
    mary,
    person,
    set_settings,
)


def test_anonymous_users_are_sent_to_sign_in(console: Flask) -> None:
    response = console.test_client().get("/patients/?q=jones")
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]


@pytest.mark.parametrize("roles", [("Auditor",), ("System administrator",), ()])
def test_users_without_patient_permissions_get_403(
    signed_in: Callable[..., FlaskClient], hapi: Hapi, roles: tuple[str, ...]
) -> None:
    [pid] = hapi.app.seed([mary()])
    client = signed_in(roles)
    assert client.get("/patients/?q=jones").status_code == 403
    assert client.get(f"/patients/{pid}").status_code == 403
    assert hapi.requests_to() == [], "nothing was asked of HAPI"


def test_empty_search_page_sends_nothing_upstream(clinician: FlaskClient, hapi: Hapi) -> None:
    response = clinician.get("/patients/")
    assert response.status_code == 200
    page = body(response)
    assert 'name="q"' in page and "Find a patient" in page
    assert "No patients match" not in page
    assert hapi.requests_to() == []


def test_name_search_shows_the_results_table(
    console: Flask, clinician: FlaskClient, hapi: Hapi
) -> None:
    [pid] = hapi.app.seed([mary()])
    response = clinician.get("/patients/?q=jones")
    assert response.status_code == 200
    page = body(response)
    assert "<table" in page
    assert f'href="/patients/{pid}"' in page
    assert "JONES, Mary Anne (Mrs)" in page
    assert "401 023 2137" in page
    assert re.search(r"01-Jan-1970 \(\d+y\)", page)
    assert "Female" in page and "LS1 4AP" in page
    assert "Patient 1 of 1." in page
    assert response.headers["Cache-Control"] == "no-store"


def test_htmx_gets_the_fragment_and_a_plain_request_the_page(
    clinician: FlaskClient, hapi: Hapi
) -> None:
    hapi.app.seed([mary()])
    fragment = body(clinician.get("/patients/?q=jones", headers=HX))
    assert "<html" not in fragment
    assert "JONES, Mary Anne (Mrs)" in fragment
    assert 'id="patient-results-status"' in fragment and 'hx-swap-oob="true"' in fragment
    assert 'name="q"' not in fragment, "the search box is not swapped (focus stays in it)"
    full = body(clinician.get("/patients/?q=jones"))
    assert full.startswith("<!doctype html>") and 'name="q"' in full


def test_nhs_number_search(clinician: FlaskClient, hapi: Hapi) -> None:
    hapi.app.seed([mary(), person("Other", identifier=[{"system": NHS, "value": "9434765919"}])])
    page = body(clinician.get("/patients/?q=401+023+2137"))
    assert "JONES, Mary Anne (Mrs)" in page and "OTHER" not in page


def test_an_invalid_nhs_number_is_an_inline_error_and_no_search(
    console: Flask, clinician: FlaskClient, hapi: Hapi
) -> None:
    response = clinician.get("/patients/?q=9434765918")
    assert response.status_code == 400
    page = body(response)
    assert "There is a problem" in page
    assert "not a valid NHS number" in page
    assert 'aria-invalid="true"' in page
    fragment = body(clinician.get("/patients/?q=943476591", headers=HX))
    assert 'id="patient-q-error" hx-swap-oob="true"' in fragment
    assert "you entered 9" in fragment
    assert hapi.requests_to() == []
    assert audit_rows(console, "patient.search") == []


def test_each_field_error_is_in_its_own_slot_on_the_page_and_out_of_band(
    clinician: FlaskClient, hapi: Hapi
) -> None:
    query = "/patients/?q=jones&dob=31-02-1970&postcode=not+a+postcode"
    for response in (clinician.get(query), clinician.get(query, headers=HX)):
        page = body(response)
        slots = dict(re.findall(r'id="patient-(\w+)-error"[^>]*>(.*?)</p>', page, re.S))
        assert set(slots) == {"q", "dob", "gender", "postcode"}
        assert "Error:" in slots["dob"] and "Error:" in slots["postcode"]
        assert slots["q"].strip() == "" and slots["gender"].strip() == ""
    assert page.count('hx-swap-oob="true"') >= 4


def test_name_and_date_of_birth_in_one_box(clinician: FlaskClient, hapi: Hapi) -> None:
    hapi.app.seed([mary(), {**mary(), "birthDate": "1980-05-05", "identifier": []}])
    page = body(clinician.get("/patients/?q=jones+01-01-1970"))
    assert page.count("JONES, Mary Anne (Mrs)") == 1
    assert "01-Jan-1970" in page


def test_name_and_year_of_birth_in_one_box(clinician: FlaskClient, hapi: Hapi) -> None:
    hapi.app.seed([mary(), {**mary(), "birthDate": "1980-05-05", "identifier": []}])
    page = body(clinician.get("/patients/?q=mary+jones+1970"))
    assert page.count("JONES, Mary Anne (Mrs)") == 1
    assert "01-Jan-1970" in page and "05-May-1980" not in page


def test_optional_fields(clinician: FlaskClient, hapi: Hapi) -> None:
    hapi.app.seed([mary(), {**mary(), "gender": "male", "identifier": []}])
    page = body(clinician.get("/patients/?q=jones&gender=female&postcode=ls14ap&dob=01/01/1970"))
    assert page.count("JONES, Mary Anne (Mrs)") == 1


def test_no_patients_match_only_for_an_empty_bundle(clinician: FlaskClient, hapi: Hapi) -> None:
    page = body(clinician.get("/patients/?q=nobody"))
    assert "No patients match your search" in page
    assert "<table" not in page


def test_paging_through_three_pages_by_the_bundle_links(
    console: Flask, clinician: FlaskClient, hapi: Hapi
) -> None:
    set_settings(console, **{"clinical.fhir_page_size": 2})
    hapi.app.seed([person(f"Page{i}", given=f"P{i}") for i in range(5)])
    hapi.server.injector.reset_counts()
    seen: list[str] = []
    url = "/patients/?q=page"
    pages = 0
    while url:
        page = body(clinician.get(url))
        pages += 1
        seen.extend(re.findall(r">(PAGE\d), ", page))
        match = re.search(r'<a href="([^"]+)"[^>]*>Next page</a>', page)
        url = html.unescape(match.group(1)) if match else ""
        if url:
            assert url.startswith("/patients/?q=page&amp;page=".replace("&amp;", "&"))
            assert "127.0.0.1" not in url, "the FHIR server address never reaches the browser"
    assert pages == 3
    assert seen == ["PAGE0", "PAGE1", "PAGE2", "PAGE3", "PAGE4"]
    assert len(hapi.requests_to("/fhir")) == 3, "one upstream request per results page"
    rows = audit_rows(console, "patient.search")
    assert [row.details["criteria"] for row in rows] == [{"name": "page"}] * 3  # type: ignore[index]
    assert "page" not in (rows[0].details or {})
    assert all(row.details["page"].startswith("?_getpages=") for row in rows[1:])  # type: ignore[index]
    last = body(clinician.get(url or re.sub(r"&amp;", "&", "/patients/?q=page")))
    assert "PAGE0" in last
    previous = re.search(r'<a href="([^"]+)"[^>]*>Previous page</a>', page)
    assert previous is not None
    back = body(clinician.get(html.unescape(previous.group(1))))
    assert "PAGE2" in back and "PAGE3" in back


@pytest.mark.parametrize(
    "token",
    [
        "http://169.254.169.254/latest/meta-data",
        "@evil.example/fhir?_getpages=x",
        "/../admin?_getpages=x",
        "/Observation?code=1",
        "?_format=json",
    ],
)
def test_a_tampered_page_link_is_refused_without_an_upstream_request(
    clinician: FlaskClient, hapi: Hapi, token: str
) -> None:
    response = clinician.get("/patients/", query_string={"q": "jones", "page": token})
    assert response.status_code == 400
    assert "results page link is not valid" in body(response)
    assert hapi.requests_to() == []


def mint_token(app: Flask, link: str, q: str = "jones") -> str:
    """A results-page token as the console issues it, for ``link`` and the search ``q``."""
    from console.patients.forms import parse_search
    from console.patients.services import page_token

    search = parse_search(q).search
    assert search is not None
    with app.test_request_context():
        token = page_token(link, search)
    assert token
    return token


def test_a_page_token_for_another_search_is_refused_and_audited(
    console: Flask, clinician: FlaskClient, hapi: Hapi
) -> None:
    hapi.app.seed([person(f"Smith{i}") for i in range(3)])
    link = f"{hapi.base_url}?_getpages=abc&_getpagesoffset=2&_count=2&_bundletype=searchset"
    token = mint_token(console, link, q="smith")
    response = clinician.get("/patients/", query_string={"q": "jones", "page": token})
    assert response.status_code == 400
    assert "results page link is not valid" in body(response)
    assert "belongs to a different search" in body(response)
    assert hapi.requests_to() == [], "the audit row can never name a search other than the one run"
    [row] = audit_rows(console, "patient.search")
    assert row.outcome == "failure"
    assert row.details is not None and row.details["criteria"] == {"name": "jones"}
    assert row.details["page"] == "(not a valid results page link)"


def test_a_correctly_signed_token_off_the_server_is_still_refused(
    console: Flask, clinician: FlaskClient, hapi: Hapi
) -> None:
    from itsdangerous import URLSafeSerializer

    from console.patients.forms import parse_search
    from console.patients.services import PAGE_TOKEN_SALT, _fingerprint

    search = parse_search("jones").search
    assert search is not None
    forged = URLSafeSerializer(console.secret_key, salt=PAGE_TOKEN_SALT).dumps(
        {"l": "/../admin?_getpages=x", "s": _fingerprint(search)}
    )
    response = clinician.get("/patients/", query_string={"q": "jones", "page": forged})
    assert response.status_code == 400
    assert hapi.requests_to() == []


def test_a_next_link_to_another_server_is_reported_not_dropped(
    clinician: FlaskClient, hapi: Hapi
) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": [
            {"relation": "self", "url": f"{hapi.base_url}/Patient?name=jones"},
            {"relation": "next", "url": "http://169.254.169.254/fhir?_getpages=x"},
        ],
        "entry": [{"resource": {**mary(), "id": "1000"}, "search": {"mode": "match"}}],
    }
    hapi.server.set_faults(
        status=200, body=json.dumps(bundle), content_type="application/fhir+json"
    )
    page = body(clinician.get("/patients/?q=jones"))
    assert "JONES, Mary Anne (Mrs)" in page
    assert "Further pages are not available" in page
    assert "169.254.169.254" in page[page.index("Technical details") :], "diagnostics say why"
    assert "Next page" not in page
    assert len(hapi.requests_to()) == 1, "the foreign link was not followed"


def test_an_expired_results_page(console: Flask, clinician: FlaskClient, hapi: Hapi) -> None:
    token = mint_token(console, f"{hapi.base_url}?_getpages=gone&_getpagesoffset=2&_count=2")
    response = clinician.get("/patients/", query_string={"q": "jones", "page": token})
    assert response.status_code == 410
    page = body(response)
    assert "These search results have expired" in page
    assert 'href="/patients/?q=jones"' in page, "try again runs the search afresh"


@pytest.mark.parametrize(("faults", "status", "message"), FAULTS)
def test_upstream_faults_reach_the_search_page_as_plain_messages(
    clinician: FlaskClient, hapi: Hapi, faults: dict[str, Any], status: int, message: str
) -> None:
    hapi.server.set_faults(**faults)
    response = clinician.get("/patients/?q=jones")
    assert response.status_code == status
    page = body(response)
    assert message in page
    assert "No patients match" not in page and "<table" not in page
    assert "Technical details" in page
    if "rejected" not in message:  # a request HAPI refused will not pass on a retry
        assert "Try again" in page
    fragment = clinician.get("/patients/?q=jones", headers=HX)
    assert fragment.status_code == 200, "htmx swaps only successful answers"
    assert message in body(fragment)
    if "rejected" not in message:
        assert 'hx-target="#patient-results"' in body(fragment)


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (404, "does not offer patient search at the configured address"),
        (401, "not allowed to use the patient record service"),
        (403, "not allowed to use the patient record service"),
    ],
)
def test_a_misconfigured_service_is_explained_never_no_results(
    clinician: FlaskClient, hapi: Hapi, status: int, message: str
) -> None:
    hapi.server.set_faults(status=status, body="<html>nope</html>", content_type="text/html")
    for headers in ({}, HX):
        page = body(clinician.get("/patients/?q=jones", headers=headers))
        assert message in page
        assert "No patients match" not in page and "No patient record was found" not in page
        assert "Technical details" in page and f"HTTP {status}" in page


def test_operation_outcome_diagnostics_are_in_the_disclosure(
    clinician: FlaskClient, hapi: Hapi
) -> None:
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [
            {"severity": "error", "code": "processing", "diagnostics": "HAPI-1882: Invalid date"}
        ],
    }
    hapi.server.set_faults(
        status=400, body=json.dumps(outcome), content_type="application/fhir+json"
    )
    page = body(clinician.get("/patients/?q=jones"))
    start = page.index("Technical details")
    details = page[start : page.index("</details>", start)]
    assert "HAPI-1882: Invalid date" in details


def test_refused_connection(clinician: FlaskClient, hapi: Hapi) -> None:
    hapi.server.refuse_connections()
    response = clinician.get("/patients/?q=jones")
    assert response.status_code == 503
    assert "is not available" in body(response)
    hapi.server.accept_connections()
    hapi.app.seed([mary()])
    assert "JONES, Mary Anne (Mrs)" in body(clinician.get("/patients/?q=jones"))


def test_a_slow_server_within_the_timeout_still_answers(
    console: Flask, clinician: FlaskClient, hapi: Hapi
) -> None:
    set_settings(console, **{"clinical.fhir_read_timeout_seconds": 2})
    hapi.app.seed([mary()])
    hapi.server.set_faults(latency_ms=300)
    started = time.monotonic()
    response = clinician.get("/patients/?q=jones")
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 200 and "JONES, Mary Anne (Mrs)" in body(response)


def test_a_hanging_server_times_out(console: Flask, clinician: FlaskClient, hapi: Hapi) -> None:
    set_settings(console, **{"clinical.fhir_read_timeout_seconds": 0.2})
    hapi.server.set_faults(hang=True)
    response = clinician.get("/patients/?q=jones")
    assert response.status_code == 504
    assert "took too long to answer" in body(response)


def test_the_breaker_stops_calling_a_failing_server_then_recovers(
    app_factory: Callable[..., Flask], hapi: Hapi
) -> None:
    app = app_factory(
        FHIR_SERVER_URL=hapi.base_url,
        FHIR_RETRIES=0,
        FHIR_BREAKER_THRESHOLD=2,
        FHIR_BREAKER_RESET_S=0.5,
    )
    from tests.support.users import make_user, sign_in

    make_user(app, "dr", roles=("Clinician",))
    client = app.test_client()
    sign_in(client, "dr")
    hapi.server.set_faults(status=503)
    for _ in range(2):
        client.get("/patients/?q=jones")
    sent = len(hapi.requests_to())
    response = client.get("/patients/?q=jones")
    assert response.status_code == 503
    assert "pausing requests" in body(response) and "Try again" in body(response)
    assert "No patients match" not in body(response)
    assert len(hapi.requests_to()) == sent
    hapi.server.clear_faults()
    hapi.app.seed([mary()])
    time.sleep(0.6)
    recovered = client.get("/patients/?q=jones")
    assert recovered.status_code == 200
    assert "JONES, Mary Anne (Mrs)" in body(recovered)
    assert len(hapi.requests_to()) == sent + 1, "one trial request closed the breaker"


def test_no_fhir_server_configured(app_factory: Callable[..., Flask]) -> None:
    from tests.support.users import make_user, sign_in

    app = app_factory(FHIR_SERVER_URL=None)
    make_user(app, "dr", roles=("Clinician",))
    client = app.test_client()
    sign_in(client, "dr")
    response = client.get("/patients/?q=jones")
    assert response.status_code == 503
    assert "not connected to a patient record service" in body(response)


def test_each_search_is_audited_with_its_criteria(
    console: Flask, clinician: FlaskClient, hapi: Hapi
) -> None:
    hapi.app.seed([mary()])
    clinician.get("/patients/?q=jones&gender=female")
    clinician.get("/patients/?q=4010232137", headers=HX)
    rows = audit_rows(console, "patient.search")
    assert len(rows) == 2
    first, second = rows
    assert first.actor_username == "user1" and first.outcome == "success"
    assert first.details == {
        "criteria": {"name": "jones", "gender": "female"},
        "kind": "details",
        "results": 1,
    }
    assert second.details is not None
    assert second.details["criteria"] == {"identifier": f"{NHS}|4010232137"}
    assert first.request_id


def test_a_failed_search_is_audited_as_a_failure(
    console: Flask, clinician: FlaskClient, hapi: Hapi
) -> None:
    hapi.server.set_faults(status=503)
    clinician.get("/patients/?q=jones")
    [row] = audit_rows(console, "patient.search")
    assert row.outcome == "failure"
    assert row.details is not None and row.details["error"] == "FhirServerError"


def test_no_search_results_without_an_audit_row(
    console: Flask, clinician: FlaskClient, hapi: Hapi
) -> None:
    hapi.app.seed([mary()])
    break_the_audit_table(console)
    for headers in ({}, HX):
        response = clinician.get("/patients/?q=jones", headers=headers)
        page = body(response)
        assert "could not record this access in the audit log" in page
        assert "JONES" not in page and "401 023 2137" not in page
    assert clinician.get("/patients/?q=jones").status_code == 503
