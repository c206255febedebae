"""The structured request log and request ids: one JSON line per request, ids sent upstream."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask, g

from console.ops.request_log import (
    REQUEST_ID_HEADER,
    accepted_request_id,
    current_request_id,
    note_upstream_call,
    redact_url,
    upstream_hook,
)
from console.permissions import public
from console.sandbox.server import EmulatorServer
from tests.support.ops import request_lines
from tests.support.users import as_user


def _probe_app(app: Flask) -> Flask:
    """Add a route that makes two upstream calls with patient data in their URLs."""

    @public
    def probe(patient_id: str) -> dict[str, Any]:
        note_upstream_call(
            "fhir", "get", "http://fhir:8080/fhir/Patient/9434765919?name=SMITH", 200, 0.0123
        )
        upstream_hook("ehrbase")(
            "POST",
            "http://ehrbase:8080/ehrbase/rest/openehr/v1/query/aql?subject=9434765919",
            None,
            0.5,
        )
        return {"request_id": g.request_id, "current": current_request_id()}

    app.add_url_rule("/probe/<patient_id>", "probe", probe)
    return app


def test_one_json_line_per_request_with_route_status_duration_and_upstream_calls(
    app: Flask, capsys: pytest.CaptureFixture[str]
) -> None:
    client = _probe_app(app).test_client()
    capsys.readouterr()
    response = client.get("/probe/9434765919?nhs_number=9434765919&name=SMITH")
    assert response.status_code == 200
    (line,) = request_lines(capsys.readouterr().err)
    assert line["request_id"] == response.headers[REQUEST_ID_HEADER]
    assert line["user_id"] is None
    assert line["method"] == "GET"
    assert line["route"] == "/probe/<patient_id>"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float)
    assert line["level"] == "INFO" and line["logger"] == "console.request"
    fhir, ehrbase = line["upstream"]
    assert fhir == {
        "service": "fhir",
        "method": "GET",
        "url": "http://fhir:8080/fhir/Patient/{id}",
        "status": 200,
        "duration_ms": 12.3,
    }
    assert ehrbase["service"] == "ehrbase"
    assert ehrbase["url"] == "http://ehrbase:8080/ehrbase/rest/openehr/v1/query/aql"
    assert ehrbase["status"] is None
    assert line["upstream_ms"] == 512.3


def test_no_patient_data_or_query_strings_in_the_log(
    app: Flask, capsys: pytest.CaptureFixture[str]
) -> None:
    client = _probe_app(app).test_client()
    capsys.readouterr()
    client.get("/probe/9434765919?nhs_number=9434765919&name=SMITH")
    logged = capsys.readouterr().err
    assert "9434765919" not in logged
    assert "SMITH" not in logged


def test_a_valid_incoming_request_id_is_kept_and_available_to_the_app(
    app: Flask, capsys: pytest.CaptureFixture[str]
) -> None:
    client = _probe_app(app).test_client()
    response = client.get("/probe/1", headers={REQUEST_ID_HEADER: "lb-2f1c:7a.9_x"})
    assert response.headers[REQUEST_ID_HEADER] == "lb-2f1c:7a.9_x"
    assert response.get_json() == {"request_id": "lb-2f1c:7a.9_x", "current": "lb-2f1c:7a.9_x"}
    (line,) = request_lines(capsys.readouterr().err)[-1:]
    assert line["request_id"] == "lb-2f1c:7a.9_x"


@pytest.mark.parametrize(
    "incoming",
    ["", "x" * 65, "has space", "tab\tid", "a/b", '{"json":1}', "-leading-dash", "caf\u00e9"],
)
def test_an_implausible_incoming_request_id_is_replaced(app: Flask, incoming: str) -> None:
    client = _probe_app(app).test_client()
    response = client.get("/probe/1", headers={REQUEST_ID_HEADER: incoming})
    assigned = response.headers[REQUEST_ID_HEADER]
    assert assigned != incoming
    assert accepted_request_id(assigned) == assigned
    assert response.get_json()["request_id"] == assigned


def test_passing_health_probes_log_at_debug_and_server_errors_at_error(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    @public
    def broken() -> str:
        raise RuntimeError("boom")

    app.add_url_rule("/broken", "broken", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer 500 as in production
    client = app.test_client()
    with caplog.at_level(logging.DEBUG, logger="console.request"):
        client.get("/health/live")
        client.get("/health/ready")
        client.get("/broken")
    levels = [
        (record.fields["route"], record.levelname)  # type: ignore[attr-defined]
        for record in caplog.records
        if record.name == "console.request"
    ]
    assert levels == [
        ("/health/live", "DEBUG"),
        ("/health/ready", "DEBUG"),
        ("/broken", "ERROR"),
    ]


def test_each_request_gets_its_own_id(app: Flask) -> None:
    client = app.test_client()
    ids = {client.get("/health/live").headers[REQUEST_ID_HEADER] for _ in range(3)}
    assert len(ids) == 3


def test_the_signed_in_users_id_is_logged(app: Flask, capsys: pytest.CaptureFixture[str]) -> None:
    client = as_user(app, "Clinician", username="clara")
    capsys.readouterr()
    client.get("/")
    (line,) = request_lines(capsys.readouterr().err)
    assert line["user_id"] not in (None, "")
    assert line["route"] == "/"
    assert "clara" not in json.dumps(line)


def test_a_public_page_names_the_signed_in_user_without_reading_the_account(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    from sqlalchemy import event

    from console.db import db

    caplog.set_level(logging.DEBUG, logger="console.request")
    client = as_user(app, "Clinician", username="clara")
    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        assert client.get("/health/live").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)
    client.get("/")
    logged = {
        record.fields["route"]: record.fields["user_id"]  # type: ignore[attr-defined]
        for record in caplog.records
        if record.name == "console.request"
    }
    assert logged["/health/live"] == logged["/"] not in (None, "")
    reads = [s for s in seen if s.lstrip().upper().startswith("SELECT")]
    # The session row (joined with its user) and the settings; the account is not
    # read a second time.
    assert len(reads) == 2, seen
    assert "user_sessions" in reads[0] and "FROM app_settings" in reads[1], seen


def test_refused_and_unknown_requests_are_logged_too(
    app: Flask, capsys: pytest.CaptureFixture[str]
) -> None:
    client = as_user(app, "Clinician", username="clara")
    capsys.readouterr()
    assert client.get("/status").status_code == 403
    assert client.get("/no/such/page").status_code == 404
    forbidden, missing = request_lines(capsys.readouterr().err)
    assert (forbidden["status"], forbidden["route"]) == (403, "/status")
    assert (missing["status"], missing["route"]) == (404, None)


def test_secrets_are_not_logged(app_factory: Callable[..., Flask], capsys) -> None:  # type: ignore[no-untyped-def]
    app = app_factory()
    client = as_user(app, "Clinician", username="clara")
    logged = capsys.readouterr().err
    assert "correct horse battery staple" not in logged
    assert "csrf_token" not in logged
    client.get("/", headers={"Authorization": "Basic c2VjcmV0OnNlY3JldA=="})
    assert "c2VjcmV0OnNlY3JldA" not in capsys.readouterr().err


# -- propagation to HAPI and EHRbase ------------------------------------------------------------


class _HeaderRecorder:
    """Wraps an emulator app and records the X-Request-ID of each call."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: list[tuple[str, str | None]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        self.seen.append((environ["PATH_INFO"], environ.get("HTTP_X_REQUEST_ID")))
        return self.app(environ, start_response)


@pytest.fixture
def recorders(
    hapi: tuple[EmulatorServer, str], ehrbase: tuple[EmulatorServer, str]
) -> Iterator[tuple[_HeaderRecorder, _HeaderRecorder]]:
    fhir = _HeaderRecorder(hapi[0].injector.app)
    openehr = _HeaderRecorder(ehrbase[0].injector.app)
    hapi[0].injector.app, ehrbase[0].injector.app = fhir, openehr
    yield fhir, openehr
    hapi[0].injector.app, ehrbase[0].injector.app = fhir.app, openehr.app


def test_the_request_id_goes_upstream_and_the_calls_are_in_the_log_line(
    stack_app: Callable[..., Flask],
    recorders: tuple[_HeaderRecorder, _HeaderRecorder],
    capsys: pytest.CaptureFixture[str],
) -> None:
    client = as_user(stack_app(), "System administrator", username="root")
    capsys.readouterr()
    response = client.get("/status", headers={REQUEST_ID_HEADER: "trace-0042"})
    assert response.status_code == 200
    fhir, openehr = recorders
    assert fhir.seen[-1] == ("/fhir/metadata", "trace-0042")
    assert openehr.seen[-1] == ("/ehrbase/rest/status", "trace-0042")
    (line,) = request_lines(capsys.readouterr().err)
    assert line["request_id"] == "trace-0042"
    calls = {call["service"]: call for call in line["upstream"]}
    assert calls["fhir"]["url"].endswith("/fhir/metadata")
    assert calls["fhir"]["status"] == 200
    assert calls["ehrbase"]["url"].endswith("/ehrbase/rest/status")
    assert calls["ehrbase"]["status"] == 200
    assert line["upstream_ms"] >= 0


def test_current_request_id_is_none_outside_a_request() -> None:
    assert current_request_id() is None


@pytest.mark.parametrize(
    ("url", "logged"),
    [
        ("http://fhir:8080/fhir/Patient?name=SMITH&_count=20", "http://fhir:8080/fhir/Patient"),
        (
            "http://fhir:8080/fhir/Patient/1000/_history/2",
            "http://fhir:8080/fhir/Patient/{id}/_history/{id}",
        ),
        ("http://fhir:8080/fhir/metadata", "http://fhir:8080/fhir/metadata"),
        (
            "http://ehrbase:8080/ehrbase/rest/openehr/v1/ehr/7d44b88c-4199-4bad-97dc-d78268e01398"
            "/composition/8849182c-82ad-4088-a07f-48ead4180515::quill.ehrbase.node::1",
            "http://ehrbase:8080/ehrbase/rest/openehr/v1/ehr/{id}/composition/{id}",
        ),
        ("http://user:pw@fhir:8080/fhir/metadata#frag", "http://fhir:8080/fhir/metadata"),
    ],
)
def test_upstream_urls_lose_credentials_queries_and_record_ids(url: str, logged: str) -> None:
    assert redact_url(url) == logged


# -- a real patient search: what reaches the logs from every logger -----------------------------


def _every_record(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(
        record.getMessage() + (str(record.exc_info) if record.exc_info else "")
        for record in caplog.records
    )


@pytest.mark.parametrize("fault", ["refused", "503"])
def test_a_failing_patient_search_logs_no_search_terms_from_any_library(
    stack_app: Callable[..., Flask],
    hapi: tuple[EmulatorServer, str],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    fault: str,
) -> None:
    """urllib3 warns on every retry with the request's URL, query string included: names and
    NHS numbers must not reach the logs that way (nor any other)."""
    app = stack_app(FHIR_RETRIES=2, FHIR_BACKOFF_FACTOR=0)
    client = as_user(app, "Clinician", username="clara")
    if fault == "refused":
        hapi[0].refuse_connections()
    else:
        hapi[0].set_faults(status=503, only_paths=["/fhir/Patient"])
    caplog.set_level(logging.WARNING)
    capsys.readouterr()
    response = client.get(
        "/patients/?q=Zebedee+Quartermaine", headers={REQUEST_ID_HEADER: "search-0007"}
    )
    assert response.status_code in (200, 502, 503, 504)
    logged = capsys.readouterr().err + _every_record(caplog)
    assert "Zebedee" not in logged and "Quartermaine" not in logged
    client.get("/patients/?q=943+476+5919")
    logged += capsys.readouterr().err + _every_record(caplog)
    assert "9434765919" not in logged and "943 476 5919" not in logged
    (line,) = [e for e in request_lines(logged) if e["request_id"] == "search-0007"]
    assert line["route"] == "/patients/"
    assert line["upstream"], "the failed calls are in the request's line"
    assert all(call["url"].endswith("/fhir/Patient") for call in line["upstream"])
    if fault == "refused":
        # urllib3's retry warnings are kept, as JSON lines of this request, without the query.
        retries = [
            json.loads(text)
            for text in logged.splitlines()
            if text.startswith("{") and '"urllib3.connectionpool"' in text
        ]
        assert retries and all(r["request_id"] == "search-0007" for r in retries[:2])
        assert all("/fhir/Patient?(query removed)" in r["message"] for r in retries)


def test_a_patient_search_sends_its_request_id_to_hapi(
    stack_app: Callable[..., Flask],
    recorders: tuple[_HeaderRecorder, _HeaderRecorder],
    capsys: pytest.CaptureFixture[str],
) -> None:
    client = as_user(stack_app(), "Clinician", username="clara")
    capsys.readouterr()
    response = client.get("/patients/?q=jones", headers={REQUEST_ID_HEADER: "ward-7-search"})
    assert response.status_code == 200
    fhir, _ = recorders
    assert fhir.seen[-1] == ("/fhir/Patient", "ward-7-search")
    (line,) = [e for e in request_lines(capsys.readouterr().err) if e["route"] == "/patients/"]
    assert line["request_id"] == "ward-7-search"
    assert [(c["service"], c["status"]) for c in line["upstream"]] == [("fhir", 200)]
    assert "jones" not in json.dumps(line).lower()


def test_a_failing_query_logs_no_parameter_values(
    app: Flask, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """A database error's message lists the statement's parameters (password hashes, TOTP
    secrets, e-mail addresses, patient ids); the 500's logged traceback must not."""
    from sqlalchemy import text

    from console.db import db

    @public
    def broken() -> str:
        db.session.execute(
            text("UPDATE no_such_table SET totp_secret = :secret WHERE email = :email"),
            {"secret": "JBSWY3DPEHPK3PXP", "email": "clara.oswald@example.org"},
        )
        return "unreachable"

    app.add_url_rule("/broken", "broken", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: a 500 page and a log entry
    caplog.set_level(logging.ERROR)
    capsys.readouterr()
    response = app.test_client().get("/broken")
    assert response.status_code == 500
    logged = capsys.readouterr().err + "\n".join(
        r.getMessage() + (logging.Formatter().formatException(r.exc_info) if r.exc_info else "")
        for r in caplog.records
    )
    assert "no_such_table" in logged, "the failure itself is logged"
    assert "JBSWY3DPEHPK3PXP" not in logged
    assert "clara.oswald" not in logged


def test_deprecated_variables_are_warned_about_at_start_up_without_their_values(
    app_factory: Callable[..., Flask], capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    app_factory(
        ENVIRON={
            "CONSOLE_ENV": "testing",
            "EHRBASE_USER": "legacy-user-7c1d",
            "DATABASE_URL": "postgresql://u:legacy-pw-9e2f@db/quill",
        }
    )
    logged = capsys.readouterr().err
    warnings = [
        json.loads(line)
        for line in logged.splitlines()
        if line.startswith("{") and '"deprecated_variable"' in line
    ]
    assert {w["variable"] for w in warnings} == {"EHRBASE_USER", "DATABASE_URL"}
    assert all(w["level"] == "WARNING" for w in warnings)
    assert any("use EHRBASE_API_USER instead" in w["message"] for w in warnings)
    assert "legacy-user-7c1d" not in logged and "legacy-pw-9e2f" not in logged


def test_no_start_up_warning_without_deprecated_variables(
    app_factory: Callable[..., Flask], capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    app_factory()
    assert "deprecated_variable" not in capsys.readouterr().err
