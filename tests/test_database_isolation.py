"""Three databases, three roles: the console's role cannot reach the FHIR or EHRbase databases.

The databases and roles are made the way the compose stack's init scripts make them: each
database owned by its own role, with CONNECT revoked from PUBLIC.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from tests.support.environment import PG_ADMIN_DSN, PG_HOST, PG_PORT, require_postgres


@pytest.fixture
def three_databases() -> Iterator[dict[str, tuple[str, str, str]]]:
    """{service: (database, role, password)} for auth, fhir and ehrbase; dropped afterwards."""
    require_postgres()
    suffix = uuid.uuid4().hex[:8]
    made: dict[str, tuple[str, str, str]] = {}
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        for service, database, role in (
            ("auth", "quill_auth", "auth_user"),
            ("fhir", "hapi", "hapi_user"),
            ("ehrbase", "ehrbase", "ehrbase_user"),
        ):
            name, user, password = f"{database}_{suffix}", f"{role}_{suffix}", uuid.uuid4().hex
            admin.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(user), sql.Literal(password)
                )
            )
            admin.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(name), sql.Identifier(user)
                )
            )
            admin.execute(
                sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(name))
            )
            made[service] = (name, user, password)
    for service in ("fhir", "ehrbase"):
        name, user, password = made[service]
        dsn = f"host={PG_HOST} port={PG_PORT} dbname={name} user={user} password={password}"
        with psycopg.connect(dsn, autocommit=True) as owner:
            owner.execute("CREATE TABLE patient_data (id int, secret text)")
            owner.execute("INSERT INTO patient_data VALUES (1, 'clinical')")
            owner.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
    yield made
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        for name, _, _ in made.values():
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        for _, user, _ in made.values():
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(user)))


def _connect_as(role: tuple[str, str, str], database: str) -> psycopg.Connection:
    _, user, password = role
    return psycopg.connect(
        host=PG_HOST,
        port=PG_PORT,
        dbname=database,
        user=user,
        password=password,
        connect_timeout=5,
    )


@pytest.mark.postgres
def test_auth_role_reaches_only_its_own_database(three_databases) -> None:  # type: ignore[no-untyped-def]
    auth = three_databases["auth"]
    with _connect_as(auth, auth[0]) as conn:
        conn.execute("CREATE TABLE users_probe (id int)")
    for other in ("fhir", "ehrbase"):
        with pytest.raises(psycopg.OperationalError, match="permission denied"):
            _connect_as(auth, three_databases[other][0])


@pytest.mark.postgres
def test_other_services_cannot_reach_each_other_or_the_auth_database(three_databases) -> None:  # type: ignore[no-untyped-def]
    for service, role in three_databases.items():
        for other, (database, _, _) in three_databases.items():
            if other == service:
                continue
            with pytest.raises(psycopg.OperationalError, match="permission denied"):
                _connect_as(role, database)


@pytest.mark.postgres
def test_auth_role_cannot_read_patient_tables_even_with_a_connection(three_databases) -> None:  # type: ignore[no-untyped-def]
    """Defence in depth: had CONNECT been granted by mistake, the tables stay closed."""
    fhir_db = three_databases["fhir"][0]
    with psycopg.connect(PG_ADMIN_DSN.rsplit("/", 1)[0] + f"/{fhir_db}", autocommit=True) as admin:
        admin.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(fhir_db), sql.Identifier(three_databases["auth"][1])
            )
        )
    with (
        _connect_as(three_databases["auth"], fhir_db) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute("SELECT secret FROM public.patient_data").fetchall()
