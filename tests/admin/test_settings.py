"""Settings: grouped typed values, validation, save and revert with audit, connection tests."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from console.sandbox.server import EmulatorServer
from tests.support.admin import Admin, form_values, setting, signed_in
from tests.support.audit import audit_count, audit_rows

CAPABILITY = {
    "resourceType": "CapabilityStatement",
    "status": "active",
    "kind": "instance",
    "software": {"name": "HAPI FHIR Server", "version": "8.8.0"},
    "fhirVersion": "4.0.1",
}
STATUS_JSON = {"ehrbase_version": "2.26.0", "openehr_sdk_version": "2.27.0"}
STATUS_XML = "<status><ehrbase_version>2.26.0</ehrbase_version></status>"


def test_the_page_groups_settings_by_area_with_help_and_defaults(admin: Admin) -> None:
    html = admin.get("/admin/settings").get_data(as_text=True)
    for area in ("Security", "Clinical services", "Display"):
        assert f"<h2>{area}</h2>" in html
    assert "Passwords shorter than this are refused." in html and "Default: 12." in html
    assert 'name="display.environment_banner"' in html and 'maxlength="40"' in html
    assert "data-save-button" in html and 'data-initial="12"' in html
    assert 'type="number"' in html and 'min="8"' in html and 'max="128"' in html


def test_saving_a_change_stores_it_and_audits_before_and_after(app: Flask, admin: Admin) -> None:
    values = form_values(admin) | {"security.password_min_length": "14",
                                   "display.environment_banner": "TRAINING"}  # fmt: skip
    response = admin.post("/admin/settings", values)
    assert response.status_code == 302
    page = admin.get("/admin/settings").get_data(as_text=True)
    assert "Saved: Minimum password length, Environment banner." in page
    assert 'class="environment-banner" role="note">TRAINING<' in page
    assert "Changed</span> by root" in page
    assert setting(app, "security.password_min_length") == 14
    events = {e.target_id: e for e in audit_rows(app, "setting.update")}
    assert set(events) == {"security.password_min_length", "display.environment_banner"}
    assert events["security.password_min_length"].before == {"security.password_min_length": 12}
    assert events["security.password_min_length"].after == {"security.password_min_length": 14}


def test_unchanged_form_saves_nothing(app: Flask, admin: Admin) -> None:
    events = audit_count(app)
    response = admin.post("/admin/settings", form_values(admin))
    assert "Nothing was changed." in admin.get(response.headers["Location"]).get_data(as_text=True)
    assert audit_count(app) == events


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("security.password_min_length", "7", "Enter a number of at least 8."),
        ("security.password_min_length", "twelve", "Enter a whole number."),
        ("clinical.fhir_read_timeout_seconds", "0.1", "Enter a number of at least 0.5."),
        ("display.environment_banner", "X" * 41, "Enter at most 40 characters."),
        ("security.require_totp_for_admins", "maybe", "Choose yes or no."),
        ("clinical.fhir_read_timeout_seconds", "nan", "Enter a number."),
        ("clinical.fhir_read_timeout_seconds", "1_0", "Enter a number."),
        ("security.idle_timeout_minutes", "٣٠", "Enter a whole number."),
        ("clinical.ehr_subject_namespace", "", "Enter a value, or revert to the default (fhir)."),
        ("clinical.ehr_subject_namespace", "nhs.uk", "Start with a letter, then use only letters"),
        ("clinical.ehr_subject_namespace", "1fhir", "Start with a letter, then use only letters"),
        (
            "clinical.ehr_subject_namespace",
            "fhir ids",
            "Start with a letter, then use only letters",
        ),
        ("clinical.fhir_deadline_seconds", "0.1", "Enter a number of at least 0.5."),
        ("clinical.ehrbase_max_response_mb", "0", "Enter a number of at least 0.1."),
        ("display.environment_banner", "TRAIN\x1bING", "Remove the control characters"),
    ],
)
def test_invalid_values_get_field_errors_and_nothing_is_saved(
    app: Flask, admin: Admin, key: str, value: str, message: str
) -> None:
    events = audit_count(app)
    values = form_values(admin) | {key: value, "clinical.fhir_page_size": "50"}
    response = admin.post("/admin/settings", values)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "There is a problem" in html and "Nothing has been saved." in html
    assert message in html
    field_id = "setting-" + key.replace(".", "-").replace("_", "-")
    assert f'href="#{field_id}"' in html
    assert audit_count(app) == events
    assert setting(app, "clinical.fhir_page_size") == 20  # the valid change was not saved either


def test_settings_that_must_stay_in_order_are_checked_together(app: Flask, admin: Admin) -> None:
    values = form_values(admin) | {"security.password_min_length": "100",
                                   "security.password_max_length": "64"}  # fmt: skip
    response = admin.post("/admin/settings", values)
    assert response.status_code == 400
    assert "cannot be more than" in response.get_data(as_text=True)
    assert setting(app, "security.password_min_length") == 12


def test_revert_returns_a_setting_to_its_default(app: Flask, admin: Admin) -> None:
    admin.post("/admin/settings", form_values(admin) | {"clinical.fhir_page_size": "50"})
    page = admin.get("/admin/settings").get_data(as_text=True)
    assert 'form="revert-form" name="key" value="clinical.fhir_page_size"' in page
    response = admin.post("/admin/settings/revert", {"key": "clinical.fhir_page_size"})
    assert "Patients per results page is back to its default." in admin.get(
        response.headers["Location"].split("#")[0]
    ).get_data(as_text=True)
    assert setting(app, "clinical.fhir_page_size") == 20
    event = audit_rows(app, "setting.revert")[0]
    assert event.before == {"clinical.fhir_page_size": 50}
    assert event.after == {"clinical.fhir_page_size": 20}
    admin.post("/admin/settings/revert", {"key": "clinical.fhir_page_size"})
    assert len(audit_rows(app, "setting.revert")) == 1
    assert admin.post("/admin/settings/revert", {"key": "no.such"}).status_code == 404


def test_a_value_changed_by_someone_else_meanwhile_is_not_overwritten(
    app: Flask, admin: Admin
) -> None:
    mine = form_values(admin)
    other = signed_in(app, "other", ("System administrator",))
    other.post("/admin/settings", form_values(other) | {"clinical.letters_page_size": "30"})
    response = admin.post("/admin/settings", mine | {"clinical.letters_page_size": "40"})
    assert response.status_code == 400
    assert "Someone else changed this to “30”" in response.get_data(as_text=True)
    assert setting(app, "clinical.letters_page_size") == 30


# --- test connection ------------------------------------------------------------------------


def fhir_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
    if environ["PATH_INFO"] == "/fhir/metadata":
        start_response("200 OK", [("Content-Type", "application/fhir+json")])
        return iter([json.dumps(CAPABILITY).encode()])
    start_response("404 Not Found", [("Content-Type", "application/fhir+json")])
    return iter(
        [
            b'{"resourceType":"OperationOutcome","issue":[{"diagnostics":"HAPI-0302: Unknown resource"}]}'
        ]
    )


def ehrbase_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
    expected = "Basic " + base64.b64encode(b"ehrbase-user:secret words").decode()
    if environ.get("HTTP_AUTHORIZATION") != expected:
        start_response("401 Unauthorized", [("Content-Type", "application/json"),
                                            ("WWW-Authenticate", 'Basic realm="Realm"')])  # fmt: skip
        return iter([b'{"status":401,"error":"Unauthorized","path":"/ehrbase/rest/status"}'])
    if environ.get("HTTP_ACCEPT") == "application/json":
        start_response("200 OK", [("Content-Type", "application/json")])
        return iter([json.dumps(STATUS_JSON).encode()])
    start_response("200 OK", [("Content-Type", "application/xml")])
    return iter([STATUS_XML.encode()])


@pytest.fixture
def upstreams() -> Iterator[tuple[EmulatorServer, EmulatorServer]]:
    fhir, ehrbase = EmulatorServer(fhir_app), EmulatorServer(ehrbase_app)
    fhir.start()
    ehrbase.start()
    yield fhir, ehrbase
    fhir.stop()
    ehrbase.stop()


def connected_app(app_factory: Callable[..., Flask], fhir: EmulatorServer, ehrbase: EmulatorServer,
                  password: str = "secret words") -> tuple[Flask, Admin]:  # fmt: skip
    app = app_factory(FHIR_SERVER_URL=fhir.url + "/fhir", EHRBASE_URL=ehrbase.url + "/ehrbase",
                      EHRBASE_API_USER="ehrbase-user", EHRBASE_API_PASSWORD=password)  # fmt: skip
    return app, signed_in(app, "root", ("System administrator",))


def test_connection_tests_report_version_and_latency(
    app_factory: Callable[..., Flask], upstreams: tuple[EmulatorServer, EmulatorServer]
) -> None:
    fhir, ehrbase = upstreams
    app, admin = connected_app(app_factory, fhir, ehrbase)
    events = audit_count(app)
    html = admin.post("/admin/settings/test/fhir", htmx=True).get_data(as_text=True)
    assert "HAPI FHIR: connected." in html
    assert "HAPI FHIR Server 8.8.0 (FHIR 4.0.1)" in html
    assert re.search(r"<dt>Time taken</dt><dd>\d+ ms</dd>", html)
    html = admin.post("/admin/settings/test/ehrbase", htmx=True).get_data(as_text=True)
    assert "EHRbase: connected." in html and "EHRbase 2.26.0" in html
    page = admin.post("/admin/settings/test/ehrbase").get_data(as_text=True)
    assert "<html" in page and "EHRbase 2.26.0" in page  # works without JavaScript too
    assert audit_count(app) == events  # a test changes nothing


def test_connection_tests_report_the_exact_failure(
    app_factory: Callable[..., Flask], upstreams: tuple[EmulatorServer, EmulatorServer]
) -> None:
    fhir, ehrbase = upstreams
    _app, admin = connected_app(app_factory, fhir, ehrbase, password="wrong")
    html = admin.post("/admin/settings/test/ehrbase", htmx=True).get_data(as_text=True)
    assert "refused the console&#39;s credentials (HTTP 401)" in html
    assert "Unauthorized" in html

    fhir.set_faults(status=500, body='{"resourceType":"OperationOutcome","issue":[{"severity":"error",'
                    '"code":"exception","diagnostics":"HAPI-1234: database is down"}]}')  # fmt: skip
    html = admin.post("/admin/settings/test/fhir", htmx=True).get_data(as_text=True)
    assert "HTTP 500" in html and "HAPI-1234: database is down" in html

    fhir.set_faults(malformed=True)
    html = admin.post("/admin/settings/test/fhir", htmx=True).get_data(as_text=True)
    assert "not working" in html

    fhir.clear_faults()
    fhir.refuse_connections()
    html = admin.post("/admin/settings/test/fhir", htmx=True).get_data(as_text=True)
    assert "The server could not be reached." in html and "Connection refused" in html
    fhir.accept_connections()


def test_connection_tests_say_when_nothing_is_configured(admin: Admin) -> None:
    html = admin.post("/admin/settings/test/fhir", htmx=True).get_data(as_text=True)
    assert "FHIR_SERVER_URL is not set." in html
    assert admin.post("/admin/settings/test/mainframe").status_code == 404


def test_a_slow_server_is_reported_as_a_timeout(
    app_factory: Callable[..., Flask], upstreams: tuple[EmulatorServer, EmulatorServer]
) -> None:
    fhir, ehrbase = upstreams
    _app, admin = connected_app(app_factory, fhir, ehrbase)
    admin.post(
        "/admin/settings", form_values(admin) | {"clinical.fhir_read_timeout_seconds": "0.5"}
    )
    fhir.set_faults(hang=True)
    try:
        html = admin.post("/admin/settings/test/fhir", htmx=True).get_data(as_text=True)
    finally:
        fhir.clear_faults()
    assert "No answer in time (connect 3.05 s, read 0.5 s)." in html
