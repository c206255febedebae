"""/health/live and /health/ready: public, JSON, never redirecting, honest about the database."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from flask import Flask
from flask_migrate import upgrade

from console import create_app
from console.ops import probes
from console.permissions import PUBLIC, declared_permission
from tests.support.environment import base_config


def test_live_answers_ok_without_touching_anything(app: Flask) -> None:
    response = app.test_client().get("/health/live")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers


def test_ready_when_the_auth_database_is_at_the_latest_migration(app: Flask) -> None:
    response = app.test_client().get("/health/ready")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ready"
    assert body["auth_database"] == "ok"
    with app.app_context():
        heads = probes.migration_heads(app.extensions["migrate"].directory)
    assert body["revision"] == list(heads) == body["head"]


def _unmigrated_app(tmp_path: Path) -> Flask:
    return create_app(base_config(tmp_path, f"sqlite:///{tmp_path / 'empty.sqlite3'}"))


def test_not_ready_when_the_auth_database_was_never_migrated(tmp_path: Path) -> None:
    response = _unmigrated_app(tmp_path).test_client().get("/health/ready")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["auth_database"] == "not migrated"
    assert body["revision"] == []
    assert body["head"]


def test_not_ready_when_the_auth_database_is_behind_the_latest_migration(tmp_path: Path) -> None:
    app = _unmigrated_app(tmp_path)
    with app.app_context():
        directory = app.extensions["migrate"].directory
        (head,) = probes.migration_heads(directory)
        config = Config()
        config.set_main_option("script_location", directory)
        previous = ScriptDirectory.from_config(config).get_revision(head).down_revision
        if previous is None:
            pytest.skip("only one migration exists")
        upgrade(revision=previous)
    response = app.test_client().get("/health/ready")
    assert response.status_code == 503
    assert response.get_json()["auth_database"] == "not migrated"
    assert response.get_json()["revision"] == [previous]


def test_not_ready_when_the_auth_database_is_unreachable(tmp_path: Path) -> None:
    app = create_app(
        base_config(tmp_path, "postgresql+psycopg://auth_user:secret-pw@127.0.0.1:1/quill_auth")
    )
    response = app.test_client().get("/health/ready")
    assert response.status_code == 503
    body = response.get_json()
    assert body == {"status": "unavailable", "auth_database": "unreachable"}
    assert "secret-pw" not in response.get_data(as_text=True)


@pytest.mark.postgres
def test_ready_on_postgresql(pg_app_factory: Callable[..., Flask]) -> None:
    response = pg_app_factory().test_client().get("/health/ready")
    assert response.status_code == 200
    assert response.get_json()["status"] == "ready"


@pytest.mark.parametrize("path", ["/health/live", "/health/ready"])
def test_health_never_redirects_even_with_a_stale_session_cookie(app: Flask, path: str) -> None:
    client = app.test_client()
    client.set_cookie("quill_session", "not-a-session-token")
    response = client.get(path)
    assert response.status_code == 200
    assert "Location" not in response.headers


def test_health_endpoints_are_the_public_ones_and_answer_errors_in_json(app: Flask) -> None:
    with app.test_request_context():
        assert declared_permission("ops.live") == PUBLIC
        assert declared_permission("ops.ready") == PUBLIC
    response = app.test_client().post("/health/ready")
    assert response.status_code == 405
    assert response.get_json()["code"] == 405


def _statements(app: Flask, path: str) -> tuple[int, list[str]]:
    """(status, SQL statements run) for one probe with a session cookie, as a stale browser
    or a load balancer replaying one would send."""
    from sqlalchemy import event

    from console.db import db

    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        seen.append(statement)

    client = app.test_client()
    client.set_cookie("quill_session", "not-a-session-token")
    event.listen(engine, "before_cursor_execute", record)
    try:
        status = client.get(path).status_code
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return status, seen


def test_health_probes_are_cheap(app: Flask) -> None:
    """Probed every few seconds: live touches no database, ready reads only the revision, and
    neither looks up or writes a session."""
    status, statements = _statements(app, "/health/live")
    assert (status, statements) == (200, [])
    status, statements = _statements(app, "/health/ready")
    assert status == 200
    assert 1 <= len(statements) <= 3, statements
    assert all("session" not in s.lower() and "user" not in s.lower() for s in statements)
    assert any("alembic_version" in s for s in statements)


@pytest.fixture
def silent_database() -> Iterator[int]:
    """A port that accepts TCP connections and never answers, like a hung PostgreSQL."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield listener.getsockname()[1]
    listener.close()


def test_not_ready_within_seconds_when_the_database_does_not_answer(
    tmp_path: Path, silent_database: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import console.db

    assert console.db.AUTH_DB_CONNECT_TIMEOUT_S <= 5
    monkeypatch.setattr(console.db, "AUTH_DB_CONNECT_TIMEOUT_S", 1)  # a faster test
    url = f"postgresql+psycopg://auth_user@127.0.0.1:{silent_database}/quill_auth"
    app = create_app(base_config(tmp_path, url))
    started = time.monotonic()
    response = app.test_client().get("/health/ready")
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.get_json()["auth_database"] == "unreachable"
    assert elapsed < 5, f"took {elapsed:.1f} s"
