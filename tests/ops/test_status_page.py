"""The status page: who may see it, and what it says about each database and service."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest
from flask import Flask
from psycopg import sql

from console.sandbox.server import EmulatorServer
from tests.support.environment import PG_ADMIN_DSN, require_postgres
from tests.support.users import as_user


def _row(html: str, key: str) -> str:
    match = re.search(rf'<tr id="check-{key}">(.*?)</tr>', html, re.DOTALL)
    assert match, f"no row for {key}"
    return match.group(1)


def _state(html: str, key: str) -> str:
    match = re.search(r'data-state="([^"]+)"', _row(html, key))
    assert match
    return match.group(1)


def _admin_page(app: Flask, path: str = "/status") -> str:
    client = as_user(app, "System administrator", username="root")
    response = client.get(path)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_clinicians_may_not_see_the_status_page(stack_app: Callable[..., Flask]) -> None:
    app = stack_app()
    client = as_user(app, "Clinician", username="clara")
    assert client.get("/status").status_code == 403
    assert client.get("/status/checks").status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(stack_app: Callable[..., Flask]) -> None:
    response = stack_app().test_client().get("/status")
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]


def test_everything_up(stack_app: Callable[..., Flask]) -> None:
    app = stack_app()
    html = _admin_page(app)
    assert "Everything the console needs is answering." in html
    for key in ("auth_db", "fhir", "ehrbase"):
        assert _state(html, key) == "up", key
    for key in ("fhir_db", "ehrbase_db"):
        assert _state(html, key) == "not checked", "a database not checked is not shown up"
    assert "HAPI FHIR Server 8.8.0" in _row(html, "fhir")
    assert "FHIR 4.0.1" in _row(html, "fhir")
    assert "EHRbase 2.30.0" in _row(html, "ehrbase")
    assert re.search(r"\d+ ms", _row(html, "fhir"))
    assert re.search(r"\d+ ms", _row(html, "auth_db")) or "&lt;1 ms" in _row(html, "auth_db")
    assert "SQLite" in _row(html, "auth_db")
    assert "(up to date)" in html
    assert app.config["CONSOLE_VERSION"] in html


def test_fhir_and_ehrbase_databases_are_derived_and_say_the_console_has_no_credentials(
    stack_app: Callable[..., Flask],
) -> None:
    html = _admin_page(stack_app())
    for key in ("fhir_db", "ehrbase_db"):
        row = _row(html, key)
        assert "The console has no credentials for this database" in row
        assert "not checked directly" in row
    assert "HAPI FHIR is up, so its database probably answers" in _row(html, "fhir_db")


def test_database_rows_show_where_the_databases_are_without_passwords(
    stack_app: Callable[..., Flask],
) -> None:
    environ = {
        "CONSOLE_ENV": "testing",
        "FHIR_DB_NAME": "hapi",
        "FHIR_DB_USER": "hapi_user",
        "FHIR_DB_PASSWORD": "fhir-db-secret-93",
        "FHIR_DB_HOST": "postgres-fhir",
    }
    html = _admin_page(stack_app(ENVIRON=environ))
    row = _row(html, "fhir_db")
    assert "postgresql://hapi_user:********@postgres-fhir:5432/hapi" in row
    assert "fhir-db-secret-93" not in html


def test_a_service_that_has_not_answered_yet_is_starting(
    stack_app: Callable[..., Flask], hapi: tuple[EmulatorServer, str]
) -> None:
    hapi[0].refuse_connections()
    html = _admin_page(stack_app(OPS_STARTUP_GRACE_SECONDS=3600))
    assert _state(html, "fhir") == "starting"
    assert "takes one to two minutes to start" in _row(html, "fhir")
    assert _state(html, "fhir_db") == "starting"
    assert "still starting" in html
    assert 'hx-trigger="every 10s"' in html, "the table refreshes itself while starting"


def test_a_service_that_does_not_answer_after_the_start_up_window_is_down(
    stack_app: Callable[..., Flask], hapi: tuple[EmulatorServer, str]
) -> None:
    hapi[0].refuse_connections()
    html = _admin_page(stack_app())
    assert _state(html, "fhir") == "down"
    assert "does not answer" in _row(html, "fhir")
    assert _state(html, "fhir_db") == "not known"
    assert "Something the console needs is not answering" in html
    assert "every 10s" not in html


def test_a_service_that_was_up_and_then_fails_is_down_not_starting(
    stack_app: Callable[..., Flask], hapi: tuple[EmulatorServer, str]
) -> None:
    app = stack_app(OPS_STARTUP_GRACE_SECONDS=3600)
    client = as_user(app, "System administrator", username="root")
    assert _state(client.get("/status").get_data(as_text=True), "fhir") == "up"
    hapi[0].set_faults(status=503, only_paths=["/fhir/metadata"])
    html = client.get("/status/checks").get_data(as_text=True)
    assert _state(html, "fhir") == "down"
    assert "answered 503" in _row(html, "fhir")


def test_ehrbase_rejecting_the_credentials_is_down_with_the_reason(
    stack_app: Callable[..., Flask],
) -> None:
    html = _admin_page(stack_app(EHRBASE_API_PASSWORD="not-the-password"))
    assert _state(html, "ehrbase") == "down"
    assert "refused the credentials of EHRBASE_API_USER (401)" in _row(html, "ehrbase")
    assert "not-the-password" not in html


def test_ehrbase_answering_401_while_starting_is_starting(
    stack_app: Callable[..., Flask],
) -> None:
    html = _admin_page(stack_app(EHRBASE_API_PASSWORD="not-yet", OPS_STARTUP_GRACE_SECONDS=3600))
    assert _state(html, "ehrbase") == "starting"
    assert "answers 401 (it does so while starting)" in _row(html, "ehrbase")


def test_a_malformed_capability_statement_is_down(
    stack_app: Callable[..., Flask], hapi: tuple[EmulatorServer, str]
) -> None:
    hapi[0].set_faults(malformed=True, only_paths=["/fhir/metadata"])
    html = _admin_page(stack_app(OPS_STARTUP_GRACE_SECONDS=3600))
    assert _state(html, "fhir") == "down"


def test_services_that_are_not_configured_say_so(app_factory: Callable[..., Flask]) -> None:
    html = _admin_page(app_factory())
    assert _state(html, "fhir") == "not configured"
    assert "FHIR_SERVER_URL is not set." in _row(html, "fhir")
    assert _state(html, "ehrbase") == "not configured"


def test_deprecated_variables_are_listed_with_their_replacements(
    stack_app: Callable[..., Flask],
) -> None:
    environ = {"CONSOLE_ENV": "testing", "EHRBASE_USER": "old", "DATABASE_URL": "sqlite://"}
    html = _admin_page(stack_app(ENVIRON=environ))
    assert "<code>EHRBASE_USER</code>: use EHRBASE_API_USER." in html
    assert "<code>DATABASE_URL</code>" in html
    assert "None in use." not in html


def test_no_deprecated_variables(stack_app: Callable[..., Flask]) -> None:
    assert "None in use." in _admin_page(stack_app())


def test_the_refresh_fragment_is_the_table_alone(stack_app: Callable[..., Flask]) -> None:
    app = stack_app()
    client = as_user(app, "System administrator", username="root")
    html = client.get("/status/checks", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert html.lstrip().startswith("{#") is False
    assert 'id="status-checks"' in html
    assert "<html" not in html
    assert _state(html, "ehrbase") == "up"


def test_one_page_load_asks_each_service_once(
    stack_app: Callable[..., Flask],
    hapi: tuple[EmulatorServer, str],
    ehrbase: tuple[EmulatorServer, str],
) -> None:
    app = stack_app()
    client = as_user(app, "System administrator", username="root")
    hapi[0].injector.requests.clear()
    ehrbase[0].injector.requests.clear()
    client.get("/status")
    assert hapi[0].injector.requests == [("GET", "/fhir/metadata")]
    assert ehrbase[0].injector.requests == [("GET", "/ehrbase/rest/status")]


def test_the_status_page_is_in_the_administrators_navigation(
    stack_app: Callable[..., Flask],
) -> None:
    app = stack_app()
    admin = as_user(app, "System administrator", username="root")
    assert 'href="/status"' in admin.get("/").get_data(as_text=True)
    clinician = as_user(app, "Clinician", username="clara")
    assert 'href="/status"' not in clinician.get("/").get_data(as_text=True)


# -- read-only health credentials: the FHIR database checked directly (PostgreSQL) ---------------


@pytest.fixture
def health_role() -> Iterator[str]:
    """A login role with nothing but CONNECT, as an operator would create for health checks."""
    require_postgres()
    role = f"quill_health_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'health-pw-5150'").format(sql.Identifier(role))
        )
        # The server may close its maintenance database to PUBLIC, as the init scripts do.
        admin.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(_fhir_database_environ()["FHIR_DB_NAME"]), sql.Identifier(role)
            )
        )
    yield role
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(
            sql.SQL("REVOKE CONNECT ON DATABASE {} FROM {}").format(
                sql.Identifier(_fhir_database_environ()["FHIR_DB_NAME"]), sql.Identifier(role)
            )
        )
        admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def _fhir_database_environ() -> dict[str, str]:
    server = psycopg.conninfo.conninfo_to_dict(PG_ADMIN_DSN)
    return {
        "CONSOLE_ENV": "testing",
        "FHIR_DB_NAME": str(server.get("dbname", "postgres")),
        "FHIR_DB_USER": "hapi_user",
        "FHIR_DB_HOST": str(server.get("host", "127.0.0.1")),
        "FHIR_DB_PORT": str(server.get("port", "5432")),
    }


@pytest.mark.postgres
def test_with_health_credentials_the_fhir_database_is_checked_directly(
    stack_app: Callable[..., Flask], health_role: str
) -> None:
    app = stack_app(
        ENVIRON=_fhir_database_environ(),
        FHIR_DB_HEALTH_USER=health_role,
        FHIR_DB_HEALTH_PASSWORD="health-pw-5150",
    )
    html = _admin_page(app)
    row = _row(html, "fhir_db")
    assert _state(html, "fhir_db") == "up"
    assert f"Checked directly as the read-only health user {health_role}" in row
    assert re.search(r"PostgreSQL \d+", row), "the server's own version"
    assert "no credentials" not in row
    assert "health-pw-5150" not in html
    # The EHRbase database has no health credentials: still derived from EHRbase.
    assert "The console has no credentials for this database" in _row(html, "ehrbase_db")


@pytest.mark.postgres
def test_health_credentials_that_cannot_connect_make_the_row_down(
    stack_app: Callable[..., Flask],
) -> None:
    require_postgres()
    app = stack_app(
        ENVIRON=_fhir_database_environ(),
        FHIR_DB_HEALTH_USER="no_such_health_role",
        FHIR_DB_HEALTH_PASSWORD="health-pw-5150",
    )
    html = _admin_page(app)
    row = _row(html, "fhir_db")
    assert _state(html, "fhir_db") == "down"
    assert "Cannot connect to" in row and "as the health user no_such_health_role" in row
    assert "health-pw-5150" not in html
    assert "Something the console needs is not answering." in html
