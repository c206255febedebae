"""Fixtures: a migrated SQLite auth database per test, throw-away PostgreSQL databases, apps."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy.engine import URL

from console import create_app
from tests.support.environment import (
    PG_ADMIN_DSN,
    PG_HOST,
    PG_PORT,
    PG_SUPERUSER,
    PG_SUPERUSER_PASSWORD,
    base_config,
    require_postgres,
)

# Shared test support (helpers and fixtures), one plugin per concern.
pytest_plugins = ["tests.support.audit"]


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite database migrated to head, copied for each test (migrating is slow)."""
    folder = tmp_path_factory.mktemp("template")
    path = folder / "auth.sqlite3"
    app = create_app(base_config(folder, f"sqlite:///{path}"))
    with app.app_context():
        upgrade()
    return path


@pytest.fixture
def app_factory(tmp_path: Path, migrated_sqlite_template: Path) -> Callable[..., Flask]:
    """Build apps on a fresh copy of the migrated database; keyword arguments override config."""

    def build(**overrides: object) -> Flask:
        path = tmp_path / f"auth-{uuid.uuid4().hex[:8]}.sqlite3"
        shutil.copy(migrated_sqlite_template, path)
        config = base_config(tmp_path, f"sqlite:///{path}")
        config.update(overrides)
        return create_app(config)

    return build


@pytest.fixture
def app(app_factory: Callable[..., Flask]) -> Flask:
    """A console on a fresh, migrated SQLite database."""
    return app_factory()


@pytest.fixture
def client(app: Flask):  # type: ignore[no-untyped-def]
    """A test client of ``app``."""
    return app.test_client()


def pg_url(database: str, user: str | None = None, password: str | None = None) -> str:
    """A SQLAlchemy URL for ``database`` on the test server (the superuser unless ``user``)."""
    url = URL.create(
        "postgresql+psycopg",
        username=user or PG_SUPERUSER,
        password=password if user else PG_SUPERUSER_PASSWORD,
        host=PG_HOST,
        port=PG_PORT,
        database=database,
    )
    return url.render_as_string(hide_password=False)


@pytest.fixture
def pg_database() -> Iterator[Callable[..., str]]:
    """Factory of throw-away PostgreSQL databases; returns a SQLAlchemy URL. Dropped afterwards."""
    require_postgres()
    created: list[str] = []

    def make(owner: str | None = None) -> str:
        name = f"quill_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"' + (f' OWNER "{owner}"' if owner else ""))
        created.append(name)
        return pg_url(name)

    yield make
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        for name in created:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_app_factory(tmp_path: Path, pg_database: Callable[..., str]) -> Callable[..., Flask]:
    """Build apps on a fresh, migrated PostgreSQL database."""

    def build(**overrides: object) -> Flask:
        config = base_config(tmp_path, pg_database())
        config.update(overrides)
        app = create_app(config)
        with app.app_context():
            upgrade()
        return app

    return build


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_app_factory(
    request: pytest.FixtureRequest, app_factory: Callable[..., Flask]
) -> Callable[..., Flask]:
    """Runs a test twice: on SQLite and on PostgreSQL. The PostgreSQL run carries the
    ``postgres`` marker (``-m "not postgres"`` leaves it out) and, like every PostgreSQL test,
    fails rather than skips when CI=true and the server is missing."""
    if request.param == "sqlite":
        return app_factory
    return request.getfixturevalue("pg_app_factory")
