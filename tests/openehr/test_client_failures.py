"""Every way EHRbase can fail reaches the caller as the right typed error, with its words."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import requests

from console.fhir.breaker import CircuitBreaker
from console.openehr import errors
from console.openehr import letter_template as lt
from console.openehr.client import EhrbaseClient
from console.openehr.letters import letters_query
from tests.support.openehr import Target

AQL = "/ehrbase/rest/openehr/v1/query/aql"


def ehrbase_body(status: str, message: str) -> str:
    return json.dumps({"error": status, "message": message})


def letters(client: EhrbaseClient) -> Any:
    """The letter list's AQL query (the request whose failures these tests are about)."""
    q, params = letters_query("p-1", "fhir", lt.TEMPLATE_ID)
    return client.query(q, params, offset=0, fetch=21)


def requests_to(target: Target, path: str) -> int:
    assert target.server is not None
    return sum(1 for _, p in target.server.injector.requests if p == path)


STATUS_FAULTS = [
    (400, "Bad Request", "Could not parse AQL query: unexpected 'FORM'", errors.EhrbaseRejected),
    (401, "Unauthorized", "Full authentication is required", errors.EhrbaseUnauthorised),
    (403, "Forbidden", "Access Denied", errors.EhrbaseForbidden),
    (404, "Not Found", "No resource found at path: /ehrbase/rest/openehr/v1/query/aql", errors.EhrbaseNotFound),
    (409, "Conflict", "EHR with id 1b0e is not modifiable", errors.EhrbaseConflict),
    (422, "Unprocessable Entity", "Query contains a LIMIT clause, fetch and offset parameters must not be used", errors.EhrbaseRejected),
    (500, "Internal Server Error", "An internal error has occurred. Please contact your administrator.", errors.EhrbaseServerError),
    (503, "Service Unavailable", "Database connection pool exhausted", errors.EhrbaseServerError),
]  # fmt: skip


@pytest.mark.parametrize(("status", "reason", "message", "error_type"), STATUS_FAULTS)
def test_error_statuses_become_typed_errors_with_verbatim_diagnostics(
    ehrbase: Target, status: int, reason: str, message: str, error_type: type[errors.EhrbaseError]
) -> None:
    assert ehrbase.server is not None
    ehrbase.server.set_faults(status=status, body=ehrbase_body(reason, message))
    with pytest.raises(error_type) as caught:
        letters(ehrbase.client())
    assert type(caught.value) is error_type
    assert caught.value.status == status
    assert caught.value.diagnostics == message
    assert caught.value.server_error == reason
    assert caught.value.message and message not in caught.value.message


def test_a_proxy_error_page_is_kept_verbatim(ehrbase: Target) -> None:
    assert ehrbase.server is not None
    page = "<html><body><h1>502 Bad Gateway</h1>nginx</body></html>"
    ehrbase.server.set_faults(status=502, body=page, content_type="text/html")
    with pytest.raises(errors.EhrbaseServerError) as caught:
        letters(ehrbase.client())
    assert caught.value.diagnostics == page


def test_refused_connections_mean_unavailable(ehrbase: Target) -> None:
    assert ehrbase.server is not None
    ehrbase.server.refuse_connections()
    with pytest.raises(errors.EhrbaseUnavailable) as caught:
        letters(ehrbase.client())
    assert type(caught.value) is errors.EhrbaseUnreachable
    assert "cannot be reached" in caught.value.message
    assert caught.value.diagnostics


def test_a_hanging_server_times_out(ehrbase: Target) -> None:
    assert ehrbase.server is not None
    ehrbase.server.set_faults(hang=True)
    with pytest.raises(errors.EhrbaseTimeout) as caught:
        letters(ehrbase.client(read_timeout=0.2))
    assert "in time" in caught.value.message


def test_a_slow_server_times_out(ehrbase: Target) -> None:
    assert ehrbase.server is not None
    ehrbase.server.set_faults(latency_ms=600)
    with pytest.raises(errors.EhrbaseTimeout):
        ehrbase.client(read_timeout=0.2).status()


def test_a_truncated_body_is_malformed(ehrbase: Target) -> None:
    assert ehrbase.server is not None
    ehrbase.server.set_faults(malformed=True)
    with pytest.raises(errors.EhrbaseMalformedResponse) as caught:
        letters(ehrbase.client())
    assert "truncated" in caught.value.diagnostics


def test_a_result_set_without_rows_is_malformed(ehrbase: Target) -> None:
    assert ehrbase.server is not None
    ehrbase.server.set_faults(status=200, body=json.dumps({"meta": {}, "q": "x"}))
    with pytest.raises(errors.EhrbaseMalformedResponse):
        letters(ehrbase.client())


def test_reads_and_queries_are_retried_but_writes_are_not(ehrbase: Target) -> None:
    assert ehrbase.server is not None
    client = ehrbase.client(retries=2)
    ehrbase.server.set_faults(status=503, body=ehrbase_body("Service Unavailable", "starting"))
    with pytest.raises(errors.EhrbaseServerError):
        client.find_ehr("p-1", "fhir")
    assert requests_to(ehrbase, "/ehrbase/rest/openehr/v1/ehr") == 3
    with pytest.raises(errors.EhrbaseServerError):
        letters(client)
    assert requests_to(ehrbase, AQL) == 3
    ehr_id = str(uuid.uuid4())
    with pytest.raises(errors.EhrbaseServerError):
        client.create_composition(ehr_id, lt.TEMPLATE_ID, {})
    assert requests_to(ehrbase, f"/ehrbase/rest/openehr/v1/ehr/{ehr_id}/composition") == 1


def test_the_breaker_opens_after_repeated_failures_and_recovers(ehrbase: Target) -> None:
    assert ehrbase.server is not None
    now = [1000.0]
    breaker = CircuitBreaker(failure_threshold=2, reset_after_s=30, clock=lambda: now[0])
    client = ehrbase.client(breaker=breaker)
    ehrbase.server.set_faults(status=500, body=ehrbase_body("Internal Server Error", "boom"))
    for _ in range(2):
        with pytest.raises(errors.EhrbaseServerError):
            client.status()
    calls = len(ehrbase.server.injector.requests)
    with pytest.raises(errors.EhrbaseBreakerOpen) as caught:
        client.status()
    assert len(ehrbase.server.injector.requests) == calls  # failed fast, no request
    assert "pausing" in caught.value.message
    ehrbase.server.clear_faults()
    now[0] += 31
    assert client.status().ehrbase_version  # the trial call closes the breaker
    assert breaker.state == "closed"


def test_client_errors_do_not_open_the_breaker(ehrbase: Target) -> None:
    assert ehrbase.server is not None
    breaker = CircuitBreaker(failure_threshold=1, reset_after_s=30)
    client = ehrbase.client(breaker=breaker)
    with pytest.raises(errors.EhrbaseRejected):
        client.query("SELECT nonsense", {})
    assert breaker.state == "closed"


def test_request_id_and_call_hook(ehrbase: Target) -> None:
    assert ehrbase.emulator is not None
    calls: list[tuple[str, str, int | None, float]] = []
    client = ehrbase.client(request_id=lambda: "req-123", on_call=lambda *a: calls.append(a))
    assert client.find_ehr(f"nobody-{uuid.uuid4()}", "fhir") is None
    assert ehrbase.emulator.calls[-1].request_id == "req-123"
    [(method, url, status, seconds)] = calls
    assert (method, status) == ("GET", 404)
    assert url.endswith("/rest/openehr/v1/ehr") and seconds >= 0
    assert ehrbase.server is not None
    ehrbase.server.refuse_connections()
    with pytest.raises(errors.EhrbaseUnavailable):
        client.status()
    assert calls[-1][2] is None


def test_template_upload_uses_the_admin_account_and_reads_use_the_api_user(ehrbase: Target) -> None:
    assert ehrbase.emulator is not None
    client = ehrbase.client()
    client.ensure_template(lt.letter_opt())
    client.list_templates()
    upload = [
        c for c in ehrbase.emulator.calls if c.method == "POST" and c.path.endswith("/adl1.4")
    ][-1]
    listing = [
        c for c in ehrbase.emulator.calls if c.method == "GET" and c.path.endswith("/adl1.4")
    ][-1]
    assert upload.user == ehrbase.admin_user
    assert listing.user == ehrbase.user


def test_without_admin_credentials_nothing_is_uploaded(ehrbase: Target) -> None:
    assert ehrbase.server is not None
    client = ehrbase.client(admin_user=None, admin_password=None)
    before = len(ehrbase.server.injector.requests)
    with pytest.raises(errors.EhrbaseNotConfigured) as caught:
        client.upload_template(lt.letter_opt())
    assert "EHRBASE_API_ADMIN_USER" in caught.value.message
    assert len(ehrbase.server.injector.requests) == before


def test_an_invalid_template_is_refused_before_it_is_sent(ehrbase: Target) -> None:
    assert ehrbase.server is not None
    before = len(ehrbase.server.injector.requests)
    with pytest.raises(errors.TemplateInvalid) as caught:
        ehrbase.client().upload_template(b"<template><oops></template>")
    assert "well-formed" in caught.value.diagnostics
    assert len(ehrbase.server.injector.requests) == before


def test_a_template_the_server_rejects_shows_its_diagnostics_verbatim(ehrbase: Target) -> None:
    assert ehrbase.server is not None
    words = 'Invalid template: Could not parse OPT: unexpected element (uri:"", local:"oops")'
    ehrbase.server.set_faults(
        status=400,
        body=f"<Map><error>Bad Request</error><message>{words}</message></Map>",
        content_type="application/xml",
        only_paths=["/ehrbase/rest/openehr/v1/definition/template"],
    )
    with pytest.raises(errors.EhrbaseRejected) as caught:
        ehrbase.client().upload_template(lt.letter_opt())
    assert caught.value.diagnostics == words


def test_user_role_is_forbidden_on_admin_paths(ehrbase: Target) -> None:
    url = ehrbase.url + "/rest/admin/ehr"
    as_user = requests.get(url, auth=(ehrbase.user, ehrbase.password), timeout=5)
    assert as_user.status_code == 403
    assert as_user.json()["error"] == "Forbidden"
    as_admin = requests.get(
        url, auth=(ehrbase.admin_user or "", ehrbase.admin_password or ""), timeout=5
    )
    assert as_admin.status_code == 404
