"""Test support for the whole suite: helpers and fixtures shared by its tests."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from stack import postgres as project_postgres

PG_ADMIN_DSN = os.environ.get("TEST_PG_DSN") or project_postgres.dsn()
"""The superuser's DSN: ``TEST_PG_DSN`` (``make test`` sets it) or the project's own cluster."""
_PG_SERVER = conninfo_to_dict(PG_ADMIN_DSN)
PG_HOST = str(_PG_SERVER.get("host") or "127.0.0.1")
PG_PORT = int(_PG_SERVER.get("port") or 5432)
PG_SUPERUSER = str(_PG_SERVER.get("user") or "postgres")
PG_SUPERUSER_PASSWORD = _PG_SERVER.get("password")
IN_CI = os.environ.get("CI", "").lower() == "true"


def base_config(tmp_path: Path, database_url: str) -> dict[str, object]:
    """Config for a test app: testing mode, no .env, its own instance folder and database."""
    return {
        "ENVIRON": {"CONSOLE_ENV": "testing"},
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "AUTH_DATABASE_URL": database_url,
        "RATELIMIT_ENABLED": False,
    }


def postgres_available() -> bool:
    """True when the PostgreSQL server for tests answers."""
    try:
        with psycopg.connect(PG_ADMIN_DSN, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def require_postgres() -> None:
    """Skip without PostgreSQL on a laptop; fail in CI, where it must be there."""
    if postgres_available():
        return
    message = (
        f"PostgreSQL is not reachable at {PG_ADMIN_DSN} "
        "(make test starts the project's own cluster; or run: .venv/bin/python -m stack postgres start)"
    )
    if IN_CI:
        pytest.fail(message + " (CI=true: PostgreSQL tests must run)")
    pytest.skip(message)
