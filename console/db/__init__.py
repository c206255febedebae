"""The auth database: engine, declarative base, request-scoped session and models.

``db`` is the Flask-SQLAlchemy extension (it gives Flask-Migrate its metadata); ``AuthBase``
is the typed declarative base every model derives from; ``get_auth_db()`` is the session of
the current request, committed or rolled back when the request ends.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Engine, MetaData, event
from sqlalchemy.orm import DeclarativeBase, Session

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class AuthBase(DeclarativeBase):
    """Declarative base of the auth database's models."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=AuthBase)


def get_auth_db() -> Session:
    """The request-scoped session of the auth database."""
    return db.session


def auth_engine() -> Engine:
    """The auth database's engine (of the current app)."""
    return db.engine


AUTH_DB_CONNECT_TIMEOUT_S = 3


def engine_options(url: str) -> dict[str, Any]:
    """Pool settings: pre-ping always; bounded pools for PostgreSQL. Statement parameters
    (hashes, TOTP secrets, e-mail addresses, patient ids) are kept out of error messages, and
    so out of logged tracebacks."""
    options: dict[str, Any] = {"pool_pre_ping": True, "hide_parameters": True}
    if url.startswith("postgresql"):
        options.update(pool_size=5, max_overflow=10, pool_timeout=10, pool_recycle=1800)
        # A database that accepts connections but does not answer (restarting, network trouble)
        # fails a request, and /health/ready, in seconds rather than the TCP timeout's minutes.
        options["connect_args"] = {"connect_timeout": AUTH_DB_CONNECT_TIMEOUT_S}
    return options


@event.listens_for(Engine, "connect")
def _sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    """SQLite enforces foreign keys only when asked, per connection."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def init_app(app: Flask) -> None:
    """Bind the extension and make every request one unit of work."""
    db.init_app(app)

    @app.after_request
    def _finish_unit_of_work(response: Response) -> Response:
        if response.status_code < 400:
            db.session.commit()
        else:
            db.session.rollback()
        return response

    @app.teardown_request
    def _rollback_on_error(exc: BaseException | None) -> None:
        if exc is not None:
            db.session.rollback()


from console.db import models  # noqa: E402,F401  (register the models on the metadata)
