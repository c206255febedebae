"""Migrations on PostgreSQL and SQLite: upgrade, no drift, downgrade to nothing, upgrade again."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from tests.support.environment import PG_HOST, PG_PORT

ROOT = Path(__file__).resolve().parent.parent
TABLES = {
    "users",
    "roles",
    "role_permissions",
    "user_roles",
    "user_sessions",
    "recovery_codes",
    "app_settings",
    "audit_events",
    "sso_identities",
    "sso_role_grants",
    "sso_logout_tokens",
}


def flask_db(url_env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``flask --app console db ...`` as a developer would."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTH_DB_", "DATABASE_URL"))}
    env.update(url_env)
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "console", "db", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def run_cycle(env: dict[str, str], url: str) -> None:
    up = flask_db(env, "upgrade")
    assert up.returncode == 0, up.stderr
    assert tables(url) == TABLES
    check = flask_db(env, "check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "No new upgrade operations detected" in check.stdout + check.stderr
    engine = create_engine(url)
    with engine.connect() as conn:
        roles = conn.execute(text("SELECT name FROM roles ORDER BY name")).scalars().all()
        grants = conn.execute(text("SELECT count(*) FROM role_permissions")).scalar()
    engine.dispose()
    assert roles == ["Auditor", "Clinical administrator", "Clinician", "System administrator"]
    assert grants == 15
    down = flask_db(env, "downgrade", "base")
    assert down.returncode == 0, down.stderr
    assert tables(url) == set()
    again = flask_db(env, "upgrade")
    assert again.returncode == 0, again.stderr
    assert tables(url) == TABLES


@pytest.mark.postgres
def test_migrations_on_postgresql(pg_database: Callable[..., str]) -> None:
    url = pg_database()
    name = url.rsplit("/", 1)[1]
    env = {
        "AUTH_DB_NAME": name,
        "AUTH_DB_USER": "postgres",
        "AUTH_DB_HOST": PG_HOST,
        "AUTH_DB_PORT": str(PG_PORT),
        "CONSOLE_ENV": "development",
    }
    run_cycle(env, url)


def test_migrations_on_sqlite(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    env = {"CONSOLE_ENV": "development", "CONSOLE_INSTANCE_PATH": str(instance)}
    run_cycle(env, f"sqlite:///{instance / 'quill_auth.sqlite3'}")
