"""``flask --app console check``: what it prints, what it never prints, and its exit status."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask_migrate import upgrade

from console import create_app
from console.sandbox.server import EmulatorServer
from tests.support.environment import PG_HOST, PG_PORT, base_config
from tests.support.ops import ADMIN_PASSWORD, API_PASSWORD

SECRETS = {
    "SECRET_KEY": "k" * 40 + "-very-secret-key",
    "AUTH_DB_PASSWORD": "auth-db-pw-58d1",
    "FHIR_DB_PASSWORD": "fhir-db-pw-77aa",
    "EHRBASE_DB_PASSWORD": "ehrbase-db-pw-c3c3",
    "FHIR_AUTH_PASSWORD": "fhir-basic-pw-0909",
}


def _check(app: Flask) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["check"])
    return result.exit_code, result.output


def test_everything_answers_exit_zero(stack_app: Callable[..., Flask]) -> None:
    status, output = _check(stack_app())
    assert status == 0, output
    assert "Configuration (secrets masked):" in output
    assert "Deprecated variables:\n  none" in output
    for name in ("Auth database", "FHIR database", "EHRbase database", "HAPI FHIR", "EHRbase"):
        assert name in output
    assert "HAPI FHIR Server 8.8.0" in output
    assert "EHRbase 2.30.0" in output
    assert "The console has no credentials for this database" in output
    assert output.rstrip().endswith("OK: everything required answers.")


def test_a_service_that_does_not_answer_fails_the_check(
    stack_app: Callable[..., Flask], hapi: tuple[EmulatorServer, str]
) -> None:
    hapi[0].refuse_connections()
    status, output = _check(stack_app())
    assert status == 1
    assert "FAILED: HAPI FHIR." in output


def test_a_service_answering_errors_fails_the_check_with_a_hint_about_start_up(
    stack_app: Callable[..., Flask], ehrbase: tuple[EmulatorServer, str]
) -> None:
    """A one-off command cannot know how long a service has been failing: it says down,
    even where the status page (which remembers) would still say starting."""
    ehrbase[0].set_faults(status=503, only_paths=["/ehrbase/rest/status"])
    status, output = _check(stack_app(OPS_STARTUP_GRACE_SECONDS=3600))
    assert status == 1
    assert "answered 503" in output
    assert "FAILED: EHRbase." in output
    assert "take one to two minutes to start" in output


def test_an_unmigrated_auth_database_fails_the_check(tmp_path: Path) -> None:
    app = create_app(base_config(tmp_path, f"sqlite:///{tmp_path / 'empty.sqlite3'}"))
    status, output = _check(app)
    assert status == 1
    assert "is not at the latest migration" in output
    assert "flask --app console db upgrade" in output
    assert "Auth database" in output.split("FAILED:")[1]


def test_unconfigured_services_do_not_fail_a_development_check(
    app_factory: Callable[..., Flask],
) -> None:
    status, output = _check(app_factory())
    assert status == 0
    assert "not configured" in output


def test_secrets_never_appear_in_the_output(
    stack_app: Callable[..., Flask], tmp_path: Path
) -> None:
    environ = {
        "CONSOLE_ENV": "testing",
        "AUTH_DB_NAME": "quill_auth",
        "AUTH_DB_USER": "auth_user",
        "AUTH_DB_HOST": "postgres-auth",
        "FHIR_DB_NAME": "hapi",
        "FHIR_DB_USER": "hapi_user",
        "FHIR_DB_HOST": "postgres-fhir",
        "EHRBASE_DB_NAME": "ehrbase",
        "EHRBASE_DB_USER": "ehrbase_user",
        "EHRBASE_DB_HOST": "postgres-ehrbase",
        "FHIR_AUTH_USER": "proxy",
        **SECRETS,
    }
    app = stack_app(
        ENVIRON=environ,
        SECRET_KEY=SECRETS["SECRET_KEY"],
        FHIR_DB_HEALTH_USER="health_reader",
        FHIR_DB_HEALTH_PASSWORD="fhir-health-pw-4242",
    )
    status, output = _check(app)
    for secret in (*SECRETS.values(), API_PASSWORD, ADMIN_PASSWORD, "fhir-health-pw-4242"):
        assert secret not in output
    assert "SECRET_KEY" in output and "********" in output
    assert "postgresql://auth_user:********@postgres-auth:5432/quill_auth" in output
    assert "FHIR_DB_HEALTH_USER" in output and "health_reader" in output
    assert status == 1, "the FHIR database health user cannot connect to postgres-fhir here"


def test_deprecated_variables_are_reported_with_their_replacement(
    stack_app: Callable[..., Flask],
) -> None:
    environ = {"CONSOLE_ENV": "testing", "POSTGRES_PASSWORD": "legacy-pw", "EHRBASE_USER": "x"}
    status, output = _check(stack_app(ENVIRON=environ))
    assert "EHRBASE_USER is deprecated and no longer read; use EHRBASE_API_USER instead." in output
    assert "POSTGRES_PASSWORD is deprecated" in output
    assert "legacy-pw" not in output
    assert status == 0, "a deprecated variable alone is reported, not a failure"


@pytest.mark.postgres
def test_production_requires_both_services_and_names_the_missing_variables(
    tmp_path: Path, pg_database: Callable[..., str]
) -> None:
    name = pg_database().rsplit("/", 1)[1]
    environ = {
        "CONSOLE_ENV": "production",
        "SECRET_KEY": SECRETS["SECRET_KEY"],
        "AUTH_DB_NAME": name,
        "AUTH_DB_USER": "postgres",
        "AUTH_DB_PASSWORD": SECRETS["AUTH_DB_PASSWORD"],
        "AUTH_DB_HOST": PG_HOST,
        "AUTH_DB_PORT": str(PG_PORT),
    }
    config = base_config(tmp_path, "unused")
    config.pop("AUTH_DATABASE_URL")
    app = create_app({**config, "ENVIRON": environ})
    with app.app_context():
        upgrade()
    status, output = _check(app)
    assert status == 1
    assert "Quill Console" in output and "(production)" in output
    assert f"postgresql://postgres:********@{PG_HOST}:{PG_PORT}/{name}, revision" in output
    assert "FHIR_SERVER_URL is not set." in output and "EHRBASE_URL is not set." in output
    assert "FAILED: HAPI FHIR, EHRbase." in output
    assert "take one to two minutes" not in output, "nothing is starting: they are not configured"
    assert SECRETS["SECRET_KEY"] not in output and SECRETS["AUTH_DB_PASSWORD"] not in output


def test_an_invalid_configuration_is_one_clear_line_and_exit_1(tmp_path: Path) -> None:
    """The app cannot even be built: the operator gets the reason, not a traceback."""
    env = {
        "PATH": os.environ["PATH"],
        "CONSOLE_ENV": "production",
        "SECRET_KEY": "changeme",
        "AUTH_DB_NAME": "quill_auth",
        "AUTH_DB_USER": "auth_user",
        "AUTH_DB_PASSWORD": SECRETS["AUTH_DB_PASSWORD"],
        "AUTH_DB_HOST": "127.0.0.1",
        "CONSOLE_INSTANCE_PATH": str(tmp_path / "instance"),
    }
    flask = Path(sys.executable).parent / "flask"
    result = subprocess.run(
        [str(flask), "--app", "console", "check"],
        env={**env, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "SECRET_KEY" in result.stderr and result.stderr.startswith("Error: ")
    assert SECRETS["AUTH_DB_PASSWORD"] not in result.stdout + result.stderr
