"""The project's own PostgreSQL cluster (``stack/postgres.py``), as ``make test`` starts it.

Its three databases come from compose's init scripts; each service role reaches its own
database only. A second cluster on a spare port checks first start, reuse and recovery from a
killed run without disturbing the one the suite uses.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from stack import platform
from stack import postgres as project_postgres
from tests.support.environment import IN_CI, PG_ADMIN_DSN, PG_HOST, PG_PORT, require_postgres

pytestmark = pytest.mark.postgres

SERVICES = {
    "auth": ("AUTH_DB_NAME", "AUTH_DB_USER", "AUTH_DB_PASSWORD"),
    "fhir": ("FHIR_DB_NAME", "FHIR_DB_USER", "FHIR_DB_PASSWORD"),
    "ehrbase": ("EHRBASE_DB_NAME", "EHRBASE_DB_USER", "EHRBASE_DB_PASSWORD"),
}


@pytest.fixture
def service_logins() -> dict[str, tuple[str, str, str]]:
    """{service: (database, role, password)} of the project cluster the suite runs on."""
    require_postgres()
    if project_postgres.dsn() != PG_ADMIN_DSN:
        pytest.skip("TEST_PG_DSN names another server than the project's own cluster")
    values = platform.settings()
    return {
        service: (values[name], values[user], values[password])
        for service, (name, user, password) in SERVICES.items()
    }


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


def test_each_service_role_reaches_only_its_own_database(
    service_logins: dict[str, tuple[str, str, str]],
) -> None:
    for service, (database, user, password) in service_logins.items():
        with _connect(database, user, password) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == (database,)
        for other, (other_database, _, _) in service_logins.items():
            if other == service:
                continue
            with pytest.raises(psycopg.OperationalError, match="permission denied"):
                _connect(other_database, user, password)
        with pytest.raises(psycopg.OperationalError, match="permission denied"):
            _connect("postgres", user, password)


def test_service_roles_need_their_password(
    service_logins: dict[str, tuple[str, str, str]],
) -> None:
    database, user, _ = service_logins["auth"]
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        _connect(database, user, "not-the-password")


def test_the_ehrbase_database_is_ready_for_ehrbase(
    service_logins: dict[str, tuple[str, str, str]],
) -> None:
    values = platform.settings()
    database = values["EHRBASE_DB_NAME"]
    owner = (values["EHRBASE_DB_OWNER_USER"], values["EHRBASE_DB_OWNER_PASSWORD"])
    with _connect(database, *owner) as conn:
        assert conn.execute("SHOW search_path").fetchone() == ("ext",)
        schemas = conn.execute(
            "SELECT nspname, pg_get_userbyid(nspowner) FROM pg_namespace "
            "WHERE nspname IN ('ehr', 'ext') ORDER BY nspname"
        ).fetchall()
        assert schemas == [("ehr", owner[0]), ("ext", owner[0])]
    _, user, password = service_logins["ehrbase"]
    with (
        _connect(database, user, password) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute("CREATE TABLE ehr.intruder (id int)")


# -- a second cluster: first start, reuse, a killed run --------------------------------------


@pytest.fixture
def spare_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The project cluster's code pointed at a folder of its own and port 18189."""
    try:
        project_postgres.bin_dir()
    except project_postgres.PostgresUnavailable as exc:
        if IN_CI:
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    monkeypatch.setattr(project_postgres, "STATE_DIR", tmp_path / ".stack")
    monkeypatch.setenv("STACK_POSTGRES_PORT", "18189")
    folder = project_postgres.cluster_dir()
    try:
        yield folder
    finally:
        project_postgres.stop()
        shutil.rmtree(folder.parent, ignore_errors=True)


def test_first_start_makes_the_databases_and_a_killed_run_is_recovered(
    spare_cluster: Path,
) -> None:
    dsn = project_postgres.start()
    assert dsn == "postgresql://postgres@127.0.0.1:18189/postgres"
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        names = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
    assert {"quill_auth", "hapi", "ehrbase"} <= names

    assert project_postgres.start() == dsn, "a second start reuses the running cluster"

    pid_file = spare_cluster / "data" / "postmaster.pid"
    postmaster = int(pid_file.read_text().splitlines()[0])
    os.kill(postmaster, signal.SIGKILL)
    _wait_gone(postmaster)
    assert pid_file.exists(), "a killed postmaster leaves its pid file behind"

    project_postgres.start()
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        assert conn.execute("SELECT count(*) FROM pg_database WHERE datname = 'hapi'").fetchone()
    project_postgres.stop()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(dsn, connect_timeout=3)


def _wait_gone(pid: int) -> None:
    """Wait until process ``pid`` has exited (reaped by init, it no longer exists)."""
    import time

    deadline = time.monotonic() + 30
    while Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid):
        assert time.monotonic() < deadline, f"process {pid} did not exit"
        time.sleep(0.1)


def _state(pid: int) -> str:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return "zombie"
    return "zombie" if "\nState:\tZ" in status else "running"
