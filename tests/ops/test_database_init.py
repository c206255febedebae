"""The compose stack's database init SQL, run with psql on the test PostgreSQL server.

Each test gives the scripts unique database and role names and drops them afterwards. The
superuser lock-down (lock-superuser.sql) changes server-wide settings, so it is checked by
reading, not run here.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.support.environment import IN_CI, PG_ADMIN_DSN, PG_HOST, PG_PORT, require_postgres

ROOT = Path(__file__).resolve().parents[2]
SQL = ROOT / "docker" / "postgres" / "sql"
INITDB = ROOT / "docker" / "postgres" / "initdb"

pytestmark = pytest.mark.postgres


def _psql(script: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("psql")
    if binary is None:
        message = "psql is not installed"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    args = [binary, "--no-psqlrc", "--quiet", "--dbname", PG_ADMIN_DSN]
    for name, value in variables.items():
        args += ["--set", f"{name}={value}"]
    return subprocess.run(
        [*args, "--file", str(script)], capture_output=True, text=True, timeout=60, check=False
    )


def _connect(database: str, user: str, password: str) -> psycopg.Connection:
    return psycopg.connect(
        host=PG_HOST,
        port=PG_PORT,
        dbname=database,
        user=user,
        password=password,
        connect_timeout=5,
        autocommit=True,
    )


class Cleanup:
    def __init__(self) -> None:
        self.databases: list[str] = []
        self.roles: list[str] = []


@pytest.fixture
def cleanup() -> Iterator[Cleanup]:
    require_postgres()
    made = Cleanup()
    yield made
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        for name in made.databases:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        for role in made.roles:
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def _app_database(cleanup: Cleanup, label: str) -> tuple[str, str, str]:
    suffix = uuid.uuid4().hex[:8]
    database, user = f"{label}_db_{suffix}", f"{label}_user_{suffix}"
    password = "p'w\"d $x " + uuid.uuid4().hex  # quotes and spaces must survive
    cleanup.databases.append(database)
    cleanup.roles.append(user)
    result = _psql(SQL / "app-db.sql", app_db=database, app_user=user, app_password=password)
    assert result.returncode == 0, result.stderr
    return database, user, password


def test_app_database_is_owned_by_its_login_role(cleanup: Cleanup) -> None:
    database, user, password = _app_database(cleanup, "auth")
    with _connect(database, user, password) as conn:
        conn.execute("CREATE TABLE users_probe (id int)")
        conn.execute("INSERT INTO users_probe VALUES (1)")
        owner = conn.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
        ).fetchone()
        assert owner == (user,)
        flags = conn.execute(
            "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        assert flags == (False, False, False)


def test_app_role_cannot_create_roles_or_databases(cleanup: Cleanup) -> None:
    database, user, password = _app_database(cleanup, "auth")
    with _connect(database, user, password) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE ROLE intruder")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE DATABASE intruder")


def test_two_services_cannot_reach_each_others_database(cleanup: Cleanup) -> None:
    auth = _app_database(cleanup, "auth")
    fhir = _app_database(cleanup, "hapi")
    with pytest.raises(psycopg.OperationalError, match="permission denied"):
        _connect(fhir[0], auth[1], auth[2])
    with pytest.raises(psycopg.OperationalError, match="permission denied"):
        _connect(auth[0], fhir[1], fhir[2])


def _ehrbase_database(cleanup: Cleanup) -> dict[str, str]:
    suffix = uuid.uuid4().hex[:8]
    names = {
        "ehrbase_db": f"ehrbase_{suffix}",
        "owner_user": f"ehrbase_owner_{suffix}",
        "owner_password": "owner " + uuid.uuid4().hex,
        "app_user": f"ehrbase_user_{suffix}",
        "app_password": "app'" + uuid.uuid4().hex,
    }
    cleanup.databases.append(names["ehrbase_db"])
    cleanup.roles += [names["app_user"], names["owner_user"]]
    result = _psql(SQL / "ehrbase-db.sql", **names)
    assert result.returncode == 0, result.stderr
    return names


def test_ehrbase_database_has_the_schemas_and_settings_ehrbase_needs(cleanup: Cleanup) -> None:
    names = _ehrbase_database(cleanup)
    with _connect(names["ehrbase_db"], names["owner_user"], names["owner_password"]) as conn:
        schemas = dict(
            conn.execute(
                "SELECT nspname, pg_get_userbyid(nspowner) FROM pg_namespace "
                "WHERE nspname IN ('ehr', 'ext')"
            ).fetchall()
        )
        assert schemas == {"ehr": names["owner_user"], "ext": names["owner_user"]}
        assert conn.execute("SHOW search_path").fetchone() == ("ext",)
        assert conn.execute("SHOW intervalstyle").fetchone() == ("iso_8601",)
        assert conn.execute("SELECT uuid_generate_v4() IS NOT NULL").fetchone() == (True,)
        rows = conn.execute(
            "SELECT prorows FROM pg_proc WHERE proname = 'jsonb_path_query' AND pronargs = 4"
        ).fetchone()
        assert rows == (1,)


def test_ehrbase_runtime_role_uses_the_owners_tables_but_cannot_change_the_schema(
    cleanup: Cleanup,
) -> None:
    names = _ehrbase_database(cleanup)
    database = names["ehrbase_db"]
    with _connect(database, names["owner_user"], names["owner_password"]) as owner:
        # What EHRbase's migrations do as the owner role.
        owner.execute("CREATE TABLE ehr.composition_probe (id serial PRIMARY KEY, body text)")
    with _connect(database, names["app_user"], names["app_password"]) as app:
        app.execute("INSERT INTO ehr.composition_probe (body) VALUES ('letter')")
        assert app.execute("SELECT body FROM ehr.composition_probe").fetchall() == [("letter",)]
        app.execute("DELETE FROM ehr.composition_probe")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app.execute("CREATE TABLE ehr.intruder (id int)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app.execute("DROP TABLE ehr.composition_probe")


def test_other_roles_cannot_connect_to_the_ehrbase_database(cleanup: Cleanup) -> None:
    names = _ehrbase_database(cleanup)
    auth = _app_database(cleanup, "auth")
    with pytest.raises(psycopg.OperationalError, match="permission denied"):
        _connect(names["ehrbase_db"], auth[1], auth[2])


def test_init_scripts_feed_the_sql_from_env_and_lock_the_superuser_afterwards() -> None:
    for script, sql_file in (
        ("10-app-db.sh", "app-db.sql"),
        ("10-ehrbase-db.sh", "ehrbase-db.sql"),
    ):
        text = (INITDB / script).read_text()
        assert text.startswith("#!/bin/sh\n") and "set -eu" in text
        assert text.index(f"/quill-sql}}/{sql_file}") < text.index("/quill-sql}/lock-superuser.sql")
        assert "--set" in text, "values reach SQL as psql variables, quoted by psql"
    lock = (SQL / "lock-superuser.sql").read_text()
    assert 'ALTER ROLE :"superuser" WITH PASSWORD NULL;' in lock
    assert "REVOKE ALL ON DATABASE postgres FROM PUBLIC;" in lock


def _run_init_script(tmp_path: Path, script: str, env: dict[str, str]) -> tuple[int, str, str]:
    """Run an init script with a ``psql`` stand-in that records its arguments."""
    log = tmp_path / "psql.log"
    fake = tmp_path / "psql"
    fake.write_text(
        f'#!/bin/sh\nfor a in "$@"; do echo "$a" >> "{log}"; done\necho -- >> "{log}"\n'
    )
    fake.chmod(0o755)
    result = subprocess.run(
        ["sh", str(INITDB / script)],
        env={"PATH": f"{tmp_path}:/usr/bin:/bin", "POSTGRES_USER": "postgres", **env},
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    return result.returncode, log.read_text() if log.exists() else "", result.stderr


def test_app_init_script_passes_the_service_values_to_psql(tmp_path: Path) -> None:
    status, calls, _ = _run_init_script(
        tmp_path,
        "10-app-db.sh",
        {"APP_DB_NAME": "quill_auth", "APP_DB_USER": "auth_user", "APP_DB_PASSWORD": "s3cr3t pw"},
    )
    assert status == 0
    first, second = calls.split("--\n")[:2]
    assert "app_db=quill_auth\n" in first and "app_user=auth_user\n" in first
    assert "app_password=s3cr3t pw\n" in first
    assert "superuser=postgres\n" in second


def test_init_scripts_stop_when_a_value_is_missing(tmp_path: Path) -> None:
    status, calls, stderr = _run_init_script(
        tmp_path, "10-ehrbase-db.sh", {"EHRBASE_DB_NAME": "ehrbase", "EHRBASE_DB_USER": "u"}
    )
    assert status != 0
    assert "EHRBASE_DB_PASSWORD must be set" in stderr
    assert calls == "", "nothing is created with half the values"
