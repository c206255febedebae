"""The FHIR client against the HAPI emulator: paging, typed errors from faults, breaker, SSRF guard."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from console.fhir import (
    CircuitBreaker,
    FhirBreakerOpen,
    FhirClient,
    FhirError,
    FhirGone,
    FhirInvalidLink,
    FhirMalformed,
    FhirNotFound,
    FhirRejected,
    FhirSearchExpired,
    FhirServerError,
    FhirTimeout,
    FhirUnreachable,
    PatientSearch,
)
from console.fhir.client import CappedRetry
from console.sandbox.patients import generate_patients
from tests.support.fhir import Hapi

ClientFactory = Callable[..., FhirClient]


def patient(family: str, given: str = "Alex", **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "name": [{"use": "official", "family": family, "given": [given]}],
        **extra,
    }


class Recorder:
    """WSGI middleware keeping the headers of every request the emulator receives."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.headers: list[dict[str, str]] = []
        self.queries: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        self.headers.append(
            {
                k[5:].replace("_", "-").title(): v
                for k, v in environ.items()
                if k.startswith("HTTP_")
            }
        )
        self.queries.append(environ.get("QUERY_STRING", ""))
        return self.app(environ, start_response)


@pytest.fixture
def recorder(hapi: Hapi) -> Recorder:
    recorder = Recorder(hapi.server.injector.app)
    hapi.server.injector.app = recorder
    return recorder


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# -- happy paths ---------------------------------------------------------------------------


def test_metadata_reports_the_server_software(client: FhirClient) -> None:
    info = client.metadata()
    assert info.software_name == "HAPI FHIR Server"
    assert info.software_version.startswith("8.")
    assert info.fhir_version == "4.0.1"


def test_read_patient_returns_a_typed_view(hapi: Hapi, client: FhirClient) -> None:
    [pid] = hapi.app.seed(generate_patients(1, seed=3))
    view = client.read_patient(pid)
    assert view.id == pid
    assert view.version_id == "1"
    assert view.nhs_number.startswith("999")
    assert view.raw["resourceType"] == "Patient"


def test_paging_follows_next_and_previous_links_over_several_pages(
    hapi: Hapi, client: FhirClient
) -> None:
    hapi.app.seed([patient(f"Paging{i:02d}") for i in range(7)])
    hapi.server.injector.reset_counts()
    first = client.search_patients(PatientSearch(family="paging"), count=3)
    assert [p.name.family for p in first.patients if p.name] == ["Paging00", "Paging01", "Paging02"]
    assert first.previous_url is None
    assert first.total == 7  # a small set: HAPI knows the total
    assert first.next_url and "_getpages=" in first.next_url
    second = client.page(first.next_url)
    third = client.page(second.next_url or "")
    assert [p.name.family for p in third.patients if p.name] == ["Paging06"]
    assert third.next_url is None
    back = client.page(third.previous_url or "")
    assert [p.id for p in back.patients] == [p.id for p in second.patients]
    # one upstream request per results page
    assert len(hapi.requests_to()) == 4


def test_searches_bypass_the_servers_result_cache(hapi: Hapi, client: FhirClient) -> None:
    hapi.app.seed([patient("Cached")])
    assert len(client.search_patients(PatientSearch(family="cached")).patients) == 1
    hapi.app.seed([patient("Cached", "Second")])
    # HAPI would reuse the first result set for 60 s without Cache-Control: no-cache
    assert len(client.search_patients(PatientSearch(family="cached")).patients) == 2


def test_requests_carry_fhir_json_accept_no_cache_and_the_request_id(
    hapi: Hapi, make_client: ClientFactory, recorder: Recorder
) -> None:
    client = make_client(request_id=lambda: "req-123", bearer_token="s3cret")
    client.search_patients(PatientSearch(name=("smith",)))
    headers = recorder.headers[-1]
    assert headers["Accept"] == "application/fhir+json"
    assert headers["Cache-Control"] == "no-cache"
    assert headers["X-Request-Id"] == "req-123"
    assert headers["Authorization"] == "Bearer s3cret"
    assert "_total" not in recorder.queries[-1]


def test_basic_auth_is_sent_when_configured(make_client: ClientFactory, recorder: Recorder) -> None:
    make_client(basic_auth=("fhir", "pw")).metadata()
    assert recorder.headers[-1]["Authorization"].startswith("Basic ")


def test_on_call_reports_every_call_and_a_failing_hook_is_harmless(
    hapi: Hapi, make_client: ClientFactory
) -> None:
    calls: list[tuple[str, str, int | None, float]] = []
    client = make_client(on_call=lambda *call: calls.append(call))
    client.metadata()
    with pytest.raises(FhirNotFound):
        client.read_patient("nope")
    assert [(m, s) for m, _, s, _ in calls[:2]] == [("GET", 200), ("GET", 404)]
    assert calls[1][1].endswith("/Patient/nope")
    client.search_patients(PatientSearch(name=("secretname",)))
    assert "secretname" not in calls[-1][1], "search terms stay out of request logs"
    assert all(seconds >= 0 for *_, seconds in calls)

    def broken(*_: object) -> None:
        raise RuntimeError("logging is down")

    assert make_client(on_call=broken).metadata().software_name


def test_create_update_and_conditional_create(client: FhirClient) -> None:
    resource = patient(
        "Writer",
        identifier=[{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765919"}],
    )
    rule = "identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919"
    first = client.create(resource, if_none_exist=rule)
    assert first.created and first.version_id == "1"
    again = client.create(resource, if_none_exist=rule)
    assert not again.created and again.id == first.id
    assert first.resource is not None
    changed = {**first.resource, "gender": "other"}
    updated = client.update(changed, if_match='W/"1"')
    assert updated.version_id == "2"
    with pytest.raises(FhirRejected) as stale:
        client.update({**changed, "gender": "male"}, if_match='W/"1"')
    assert stale.value.status == 409
    assert "not the current version" in stale.value.diagnostics


# -- typed errors --------------------------------------------------------------------------


def test_unknown_patient_is_not_found_with_the_outcome(client: FhirClient) -> None:
    with pytest.raises(FhirNotFound) as error:
        client.read_patient("999999")
    assert error.value.status == 404
    assert error.value.issues[0].diagnostics == "HAPI-2001: Resource Patient/999999 is not known"
    assert "HAPI-2001" in error.value.diagnostics
    assert not error.value.retryable


def test_an_invalid_id_is_not_found_without_a_request(hapi: Hapi, client: FhirClient) -> None:
    with pytest.raises(FhirNotFound):
        client.read_patient("../metadata")
    assert hapi.requests_to() == []


def test_deleted_patient_is_gone(hapi: Hapi, client: FhirClient) -> None:
    [pid] = hapi.app.seed([patient("Deleted")])
    client.delete("Patient", pid)
    with pytest.raises(FhirGone) as error:
        client.read_patient(pid)
    assert error.value.status == 410
    assert "Resource was deleted at" in error.value.diagnostics
    assert "deleted" in error.value.message


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors(hapi: Hapi, client: FhirClient, status: int) -> None:
    hapi.server.set_faults(status=status)
    with pytest.raises(FhirServerError) as error:
        client.read_patient("1")
    assert error.value.status == status
    assert error.value.retryable


def test_rejected_request_carries_the_operation_outcome_issues(
    hapi: Hapi, client: FhirClient
) -> None:
    body = json.dumps(
        {
            "resourceType": "OperationOutcome",
            "issue": [
                {"severity": "error", "code": "invalid", "diagnostics": "HAPI-1882: bad date"},
                {"severity": "warning", "code": "informational", "details": {"text": "and more"}},
            ],
        }
    )
    hapi.server.set_faults(status=400, body=body, content_type="application/fhir+json")
    with pytest.raises(FhirRejected) as error:
        client.search_patients(PatientSearch(name=("x",)))
    issues = error.value.issues
    assert [(i.severity, i.code, i.diagnostics) for i in issues] == [
        ("error", "invalid", "HAPI-1882: bad date"),
        ("warning", "informational", "and more"),
    ]
    assert "HAPI-1882: bad date" in error.value.diagnostics


def test_real_hapi_rejection_of_an_unknown_parameter(hapi: Hapi, client: FhirClient) -> None:
    with pytest.raises(FhirRejected) as error:
        client.page(f"{hapi.base_url}/Patient?shoe-size=9")
    assert error.value.status == 400
    assert "HAPI-0524" in error.value.issues[0].diagnostics


def test_a_404_to_a_search_is_a_wrong_address_not_an_empty_result(
    hapi: Hapi, client: FhirClient
) -> None:
    hapi.server.set_faults(status=404, body="<html>Not Found</html>", content_type="text/html")
    with pytest.raises(FhirRejected) as error:
        client.search_patients(PatientSearch(name=("x",)))
    assert "does not offer patient search" in error.value.message
    assert not error.value.retryable
    link = f"{hapi.base_url}?_getpages=x&_getpagesoffset=2&_count=2"
    with pytest.raises(FhirRejected):
        client.page(link)
    with pytest.raises(FhirNotFound):
        client.read_patient("1")  # a read's 404 still means "no such record"


def test_forbidden_is_explained_for_an_administrator(hapi: Hapi, client: FhirClient) -> None:
    hapi.server.set_faults(status=401, body="")
    with pytest.raises(FhirRejected) as error:
        client.metadata()
    assert "not allowed" in error.value.message


def test_malformed_json_is_malformed(hapi: Hapi, client: FhirClient) -> None:
    hapi.server.set_faults(malformed=True, content_type="application/fhir+json")
    with pytest.raises(FhirMalformed) as error:
        client.search_patients(PatientSearch(name=("x",)))
    assert "Invalid JSON" in error.value.diagnostics


def test_wrong_resource_type_is_malformed(hapi: Hapi, client: FhirClient) -> None:
    hapi.server.set_faults(
        status=200,
        body='{"resourceType": "Observation", "id": "1"}',
        content_type="application/fhir+json",
    )
    with pytest.raises(FhirMalformed) as error:
        client.read_patient("1")
    assert "Observation" in error.value.diagnostics
    with pytest.raises(FhirMalformed):
        client.search_patients(PatientSearch(name=("x",)))


def test_a_search_bundle_with_a_broken_entry_is_malformed(hapi: Hapi, client: FhirClient) -> None:
    body = json.dumps(
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [{"resource": {"resourceType": "Patient"}}],
        }
    )
    hapi.server.set_faults(status=200, body=body, content_type="application/fhir+json")
    with pytest.raises(FhirMalformed) as error:
        client.search_patients(PatientSearch(name=("x",)))
    assert "without a valid id" in error.value.diagnostics


def test_absurdly_nested_json_is_malformed_not_a_crash(hapi: Hapi, client: FhirClient) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    hapi.server.set_faults(status=200, body=deep, content_type="application/fhir+json")
    with pytest.raises(FhirMalformed):
        client.search_patients(PatientSearch(name=("x",)))
    hapi.server.set_faults(status=400, body=deep, content_type="application/fhir+json")
    with pytest.raises(FhirRejected) as error:
        client.read_patient("1")
    assert error.value.issues == ()


def test_an_html_page_instead_of_json_is_malformed(hapi: Hapi, client: FhirClient) -> None:
    hapi.server.set_faults(status=200, body="<html>Proxy login</html>", content_type="text/html")
    with pytest.raises(FhirMalformed) as error:
        client.metadata()
    assert "text/html" in error.value.diagnostics


def test_a_hanging_server_times_out(hapi: Hapi, make_client: ClientFactory) -> None:
    hapi.server.set_faults(hang=True)
    client = make_client(read_timeout=0.2)
    with pytest.raises(FhirTimeout) as error:
        client.read_patient("1")
    assert "took too long" in error.value.message
    hapi.server.clear_faults()


def test_a_slow_server_times_out(hapi: Hapi, make_client: ClientFactory) -> None:
    hapi.server.set_faults(latency_ms=600)
    with pytest.raises(FhirTimeout):
        make_client(read_timeout=0.1).search_patients(PatientSearch(name=("x",)))


def test_a_refused_connection_is_unreachable(hapi: Hapi, client: FhirClient) -> None:
    hapi.server.refuse_connections()
    with pytest.raises(FhirUnreachable) as error:
        client.metadata()
    assert "could not connect" in error.value.message
    assert "ConnectionError" in error.value.diagnostics


def test_every_error_is_a_fhir_error_with_a_message_and_diagnostics(
    hapi: Hapi, client: FhirClient
) -> None:
    hapi.server.set_faults(status=503)
    with pytest.raises(FhirError) as error:
        client.metadata()
    assert error.value.message
    assert "HTTP 503" in error.value.diagnostics


# -- retries ----------------------------------------------------------------------------------


def test_gets_are_retried_on_503_and_writes_are_not(hapi: Hapi, make_client: ClientFactory) -> None:
    client = make_client(retries=2, backoff_factor=0)
    hapi.server.set_faults(status=503)
    with pytest.raises(FhirServerError):
        client.metadata()
    assert len(hapi.requests_to("/fhir/metadata")) == 3
    with pytest.raises(FhirServerError):
        client.create(patient("Once"))
    assert len(hapi.requests_to("/fhir/Patient")) == 1


def test_a_retry_recovers_from_a_passing_failure(hapi: Hapi, make_client: ClientFactory) -> None:
    client = make_client(retries=2, backoff_factor=0)
    injector = hapi.server.injector
    real_app = injector.app
    calls = {"n": 0}

    def flaky(environ: dict[str, Any], start_response: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            start_response("503 Service Unavailable", [("Content-Length", "0")])
            return [b""]
        return real_app(environ, start_response)

    injector.app = flaky
    assert client.metadata().software_name == "HAPI FHIR Server"
    assert calls["n"] == 2


def test_a_503_with_retry_after_is_retried_after_that_wait(
    hapi: Hapi, make_client: ClientFactory
) -> None:
    client = make_client(retries=2, backoff_factor=0, request_id=lambda: "retry-after")
    injector = hapi.server.injector
    real_app = injector.app
    arrivals: list[float] = []

    def busy_once(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("HTTP_X_REQUEST_ID") != "retry-after":  # a slower test's late request
            return real_app(environ, start_response)
        arrivals.append(time.monotonic())
        if len(arrivals) == 1:
            start_response(
                "503 Service Unavailable", [("Retry-After", "1"), ("Content-Length", "0")]
            )
            return [b""]
        return real_app(environ, start_response)

    injector.app = busy_once
    assert client.metadata().software_name == "HAPI FHIR Server"
    assert len(arrivals) == 2
    assert arrivals[1] - arrivals[0] >= 0.9, "the client waited as the server asked"


def test_a_write_is_never_retried_even_on_retry_after(
    hapi: Hapi, make_client: ClientFactory
) -> None:
    client = make_client(retries=3, backoff_factor=0)
    hapi.server.set_faults(status=429, body="{}")
    with pytest.raises(FhirRejected):
        client.create(patient("Once"))
    with pytest.raises(FhirRejected):
        client.update({**patient("Once"), "id": "abc"})
    assert len(hapi.requests_to("/fhir/Patient")) == 2


def test_a_refused_connection_is_retried_for_reads_only(
    hapi: Hapi, make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    import urllib3.connection

    attempts: list[str] = []
    real_connect = urllib3.connection.connection.create_connection

    def refused(address: Any, *args: Any, **kwargs: Any) -> Any:
        attempts.append(str(address))
        raise ConnectionRefusedError(111, "Connection refused")

    client = make_client(retries=2, backoff_factor=0)
    monkeypatch.setattr(urllib3.connection.connection, "create_connection", refused)
    with pytest.raises(FhirUnreachable):
        client.metadata()
    assert len(attempts) == 3, "a GET is tried again"
    attempts.clear()
    with pytest.raises(FhirUnreachable):
        client.create(patient("Once"))
    assert len(attempts) == 1, "a POST is sent at most once"
    monkeypatch.setattr(urllib3.connection.connection, "create_connection", real_connect)
    assert client.metadata().software_name, "and the client works once connections succeed"


def test_retry_after_is_honoured_but_capped() -> None:
    class Response:
        headers = {"Retry-After": "3600"}

        def getheader(self, name: str) -> str | None:
            return self.headers.get(name)

    retry = CappedRetry(total=1)
    assert retry.get_retry_after(Response()) == CappedRetry.MAX_RETRY_AFTER_S  # type: ignore[arg-type]


# -- circuit breaker ------------------------------------------------------------------------


def test_breaker_opens_after_failures_then_costs_no_request_and_recovers(
    hapi: Hapi, make_client: ClientFactory
) -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=2, reset_after_s=30, clock=clock)
    client = make_client(breaker=breaker)
    hapi.server.set_faults(status=503)
    for _ in range(2):
        with pytest.raises(FhirServerError):
            client.metadata()
    sent = len(hapi.requests_to())
    with pytest.raises(FhirBreakerOpen) as error:
        client.metadata()
    assert len(hapi.requests_to()) == sent, "an open breaker sends nothing"
    assert "pausing" in error.value.message
    hapi.server.clear_faults()
    clock.now += 30
    assert client.metadata().software_name == "HAPI FHIR Server"
    assert breaker.state == "closed"


def test_breaker_opens_on_refused_connections(hapi: Hapi, make_client: ClientFactory) -> None:
    clock = FakeClock()
    client = make_client(breaker=CircuitBreaker(failure_threshold=1, reset_after_s=5, clock=clock))
    hapi.server.refuse_connections()
    with pytest.raises(FhirUnreachable):
        client.metadata()
    with pytest.raises(FhirBreakerOpen):
        client.metadata()
    hapi.server.accept_connections()
    clock.now += 5
    assert client.metadata().software_version


def test_not_found_does_not_count_against_the_server(
    hapi: Hapi, make_client: ClientFactory
) -> None:
    breaker = CircuitBreaker(failure_threshold=1, reset_after_s=30)
    client = make_client(breaker=breaker)
    for _ in range(3):
        with pytest.raises(FhirNotFound):
            client.read_patient("missing")
    assert breaker.state == "closed"


# -- SSRF guard on paging links -------------------------------------------------------------


def test_a_valid_link_is_rebuilt_on_the_configured_base(client: FhirClient) -> None:
    base = client.base_url
    link = f"{base}?_getpages=abc&_getpagesoffset=20&_count=20&_bundletype=searchset"
    assert client.check_link(link) == link
    assert client.check_link(f"{base}/Patient?_count=10&_offset=10&family=smith").startswith(
        f"{base}/Patient?"
    )


@pytest.mark.parametrize(
    "make_link",
    [
        lambda base: "http://169.254.169.254/latest/meta-data?_getpages=x",
        lambda base: base.replace("http://", "https://") + "?_getpages=x",
        lambda base: base.replace("127.0.0.1:", "127.0.0.1:1") + "?_getpages=x",
        lambda base: base.replace("127.0.0.1", "localhost") + "?_getpages=x",
        lambda base: base.replace("http://", "http://user:pw@") + "?_getpages=x",
        lambda base: base.replace("/fhir", "@evil.example/fhir") + "?_getpages=x",
        lambda base: base + "/../admin?_getpages=x",
        lambda base: base + "x?_getpages=x",
        lambda base: base + "/Observation?code=1",
        lambda base: base + "/Patient/1/_history?x=1",
        lambda base: base + "?_format=json",
        lambda base: base + "?_getpages=x#frag",
        lambda base: base + "\\@evil.example?_getpages=x",
        lambda base: base + "?_getpages=x\r\nHost: evil",
        lambda base: base + "?_getpages=x&_getpagesoffset=20&_count=20&_total=accurate",
        lambda base: base + "/Patient?_count=10&_offset=10&family=smith&_total=accurate",
        lambda base: "file:///etc/passwd",
        lambda base: "",
    ],
)
def test_links_off_the_configured_server_are_refused_without_a_request(
    hapi: Hapi, client: FhirClient, make_link: Callable[[str], str]
) -> None:
    with pytest.raises(FhirInvalidLink):
        client.page(make_link(hapi.base_url))
    assert hapi.requests_to("/") == []


def test_an_expired_search_link_says_so(hapi: Hapi, client: FhirClient) -> None:
    hapi.app.seed([patient(f"Expire{i}") for i in range(3)])
    first = client.search_patients(PatientSearch(family="expire"), count=1)
    hapi.app.expire_searches()
    with pytest.raises(FhirSearchExpired) as error:
        client.page(first.next_url or "")
    assert "expired" in error.value.message
    assert "HAPI-0417" in error.value.diagnostics


def test_client_has_no_flask_dependency() -> None:
    import ast
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "console" / "fhir"
    for path in folder.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(name.split(".")[0] == "flask" for name in names), path


def test_requests_session_is_pooled(client: FhirClient) -> None:
    adapter = client.session.get_adapter(client.base_url)
    assert isinstance(adapter, requests.adapters.HTTPAdapter)
    assert adapter.max_retries.allowed_methods == frozenset({"GET"})
    assert client.timeout == (1.0, 2.0)
