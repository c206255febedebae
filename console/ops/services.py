"""What the ops views and ``flask check`` call: readiness and the full report.

The state kept per app (when it started, which services have answered since, the migrations'
head revision) lives in ``app.extensions["quill_ops"]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app
from sqlalchemy.exc import SQLAlchemyError

from console.config import Secret, Settings, read_environment
from console.ops import probes
from console.ops.request_log import request_bound_hooks

HEALTH_CREDENTIAL_KEYS = (
    "FHIR_DB_HEALTH_USER",
    "FHIR_DB_HEALTH_PASSWORD",
    "EHRBASE_DB_HEALTH_USER",
    "EHRBASE_DB_HEALTH_PASSWORD",
)


@dataclass
class OpsState:
    """Per-app state of the checks."""

    memory: probes.ServiceMemory = field(default_factory=probes.ServiceMemory)
    heads: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Readiness:
    """The answer of ``/health/ready``."""

    ready: bool
    body: dict[str, Any]


def init_app(app: Flask) -> None:
    """Create the state; read the optional database health credentials (not when testing)."""
    app.extensions["quill_ops"] = OpsState()
    if not app.config.get("TESTING"):
        environment = read_environment()
        for key in HEALTH_CREDENTIAL_KEYS:
            if environment.get(key):
                app.config.setdefault(key, environment[key])


def _state() -> OpsState:
    return current_app.extensions["quill_ops"]


def migration_heads() -> tuple[str, ...]:
    """The migrations' head revision(s), read once per app."""
    state = _state()
    if state.heads is None:
        state.heads = probes.migration_heads(current_app.extensions["migrate"].directory)
    return state.heads


def readiness() -> Readiness:
    """Ready when the auth database answers and is at the head revision."""
    from console.db import db

    heads = migration_heads()
    try:
        revision, _, _ = probes.auth_database_revision(db.engine, heads, with_version=False)
    except SQLAlchemyError:
        return Readiness(False, {"status": "unavailable", "auth_database": "unreachable"})
    body: dict[str, Any] = {
        "status": "ready" if revision.at_head else "unavailable",
        "auth_database": "ok" if revision.at_head else "not migrated",
        "revision": list(revision.current),
        "head": list(revision.head),
    }
    return Readiness(revision.at_head, body)


def health_credentials(app: Flask) -> probes.HealthCredentials:
    """The optional read-only database credentials from the app's config."""

    def pair(prefix: str) -> tuple[str, Secret] | None:
        user = app.config.get(f"{prefix}_DB_HEALTH_USER")
        password = app.config.get(f"{prefix}_DB_HEALTH_PASSWORD")
        if not user or not password:
            return None
        return user, password if isinstance(password, Secret) else Secret(str(password))

    return probes.HealthCredentials(fhir=pair("FHIR"), ehrbase=pair("EHRBASE"))


def full_report(grace_seconds: float | None = None) -> probes.Report:
    """Every check (the status page and ``flask check``). ``grace_seconds`` overrides the
    start-up window in which a service that has not answered yet counts as starting."""
    from console.db import db

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    settings: Settings = app.config["SETTINGS"]
    # The services are probed on worker threads: bind the request id and log line here.
    request_id, hook_for = request_bound_hooks()
    return probes.run_checks(
        settings,
        db.engine,
        migration_heads(),
        _state().memory,
        grace_seconds=float(
            grace_seconds
            if grace_seconds is not None
            else app.config.get("OPS_STARTUP_GRACE_SECONDS", probes.DEFAULT_STARTUP_GRACE_SECONDS)
        ),
        credentials=health_credentials(app),
        request_id=request_id,
        hooks={"fhir": hook_for("fhir"), "ehrbase": hook_for("ehrbase")},
    )


def uptime_seconds() -> float:
    """Seconds since this app was created."""
    return _state().memory.uptime_seconds()
