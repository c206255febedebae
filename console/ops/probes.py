"""Checks of the three databases and two services, for the status page and ``flask check``.

Each check answers with a ``Check``: a state, the latency of the probe, the version the other
side reports and a plain sentence. States:

* ``up``: answered as expected;
* ``starting``: not answering yet, but it has not answered since the console started and the
  console started only recently (HAPI and EHRbase take one to two minutes; EHRbase answers 401
  while it starts);
* ``down``: not answering, or answering wrongly, after that;
* ``not configured``: no URL or database settings were given;
* ``not checked``: a database the console cannot check, whose service answers (so it is
  probably up, but the console has not seen it answer);
* ``not known``: a database the console cannot check, whose service is down.

The console has no credentials for the FHIR and EHRbase databases, so their rows are derived from
their services, unless read-only health credentials are configured (``FHIR_DB_HEALTH_USER`` /
``_PASSWORD``, ``EHRBASE_DB_HEALTH_USER`` / ``_PASSWORD``), in which case they are checked directly.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from console.config import DatabaseParts, Secret, Settings
from console.upstream.transport import Limits

UP = "up"
STARTING = "starting"
DOWN = "down"
NOT_CONFIGURED = "not configured"
NOT_CHECKED = "not checked"
UNKNOWN = "not known"

DEFAULT_STARTUP_GRACE_SECONDS = 300.0
PROBE_CONNECT_TIMEOUT = 2.0
PROBE_READ_TIMEOUT = 5.0


@dataclass(frozen=True)
class Check:
    """The outcome of one check."""

    key: str
    name: str
    state: str
    detail: str
    latency_ms: float | None = None
    version: str | None = None
    required: bool = True
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def ok(self) -> bool:
        """True unless this check should make ``flask check`` fail (a row derived from a
        service never does: the service's own row says what fails)."""
        return self.state == UP or not self.required


@dataclass(frozen=True)
class Revision:
    """The auth database's Alembic revision against the migrations' head."""

    current: tuple[str, ...]
    head: tuple[str, ...]

    @property
    def at_head(self) -> bool:
        """True when the database is at the latest migration."""
        return bool(self.current) and set(self.current) == set(self.head)

    def describe(self) -> str:
        """e.g. ``9dd881ab65db (head)`` or ``none (head e5974dc705e9)``."""
        current = ", ".join(self.current) or "none"
        if self.at_head:
            return f"{current} (head)"
        return f"{current} (head {', '.join(self.head) or 'unknown'})"


class ServiceMemory:
    """Remembers, per service, whether it has answered since the console started."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.started_at = clock()
        self._seen_up: set[str] = set()
        self._lock = threading.Lock()

    def record_up(self, key: str) -> None:
        """The service answered."""
        with self._lock:
            self._seen_up.add(key)

    def failing_state(self, key: str, grace_seconds: float) -> str:
        """``starting`` while a never-seen service is within the start-up grace, else ``down``."""
        with self._lock:
            seen = key in self._seen_up
        if not seen and self._clock() - self.started_at < grace_seconds:
            return STARTING
        return DOWN

    def uptime_seconds(self) -> float:
        """Seconds since the console started."""
        return self._clock() - self.started_at


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


# -- the auth database ------------------------------------------------------------------------


def migration_heads(directory: str | Path) -> tuple[str, ...]:
    """The head revision(s) of the migrations in ``directory``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(directory))
    return tuple(ScriptDirectory.from_config(config).get_heads())


def current_revisions(connection: Connection) -> tuple[str, ...]:
    """The revision(s) recorded in ``alembic_version``; empty when never migrated."""
    if not inspect(connection).has_table("alembic_version"):
        return ()
    rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
    return tuple(sorted(rows))


def auth_database_revision(
    engine: Engine, heads: tuple[str, ...], *, with_version: bool = True
) -> tuple[Revision, str | None, float]:
    """(revision, server version, latency in ms); raises ``SQLAlchemyError`` when unreachable.
    ``with_version=False`` saves a round trip (the readiness probe)."""
    started = time.perf_counter()
    version: str | None = None
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
        latency = _ms(started)
        if with_version and connection.dialect.name == "sqlite":
            version = "SQLite " + str(connection.execute(text("SELECT sqlite_version()")).scalar())
        elif with_version:
            version = "PostgreSQL " + str(connection.execute(text("SHOW server_version")).scalar())
        current = current_revisions(connection)
    return Revision(current=current, head=heads), version, latency


def check_auth_database(engine: Engine, heads: tuple[str, ...], settings: Settings) -> Check:
    """Reachable, and migrated to the head revision."""
    where = settings.AUTH_DB.redacted_url() if settings.AUTH_DB else "embedded SQLite database"
    try:
        revision, version, latency = auth_database_revision(engine, heads)
    except SQLAlchemyError as exc:
        return Check(
            "auth_db",
            "Auth database",
            DOWN,
            f"Cannot connect to {where}: {type(getattr(exc, 'orig', None) or exc).__name__}.",
        )
    if not revision.at_head:
        return Check(
            "auth_db",
            "Auth database",
            DOWN,
            f"{where} answers but is not at the latest migration: revision "
            f"{revision.describe()}. Run `flask --app console db upgrade`.",
            latency,
            version,
            extra={"revision": revision},
        )
    return Check(
        "auth_db",
        "Auth database",
        UP,
        f"{where}, revision {revision.describe()}.",
        latency,
        version,
        extra={"revision": revision},
    )


# -- the FHIR and EHRbase databases -------------------------------------------------------------


def check_database_directly(
    key: str, name: str, parts: DatabaseParts, user: str, password: Secret
) -> Check:
    """Connect with read-only health credentials and ask for the server version."""
    started = time.perf_counter()
    try:
        with psycopg.connect(
            host=parts.host,
            port=parts.port,
            dbname=parts.name,
            user=user,
            password=password.reveal(),
            connect_timeout=int(PROBE_CONNECT_TIMEOUT) or 1,
        ) as connection:
            connection.execute("SELECT 1")
            latency = _ms(started)
            row = connection.execute("SHOW server_version").fetchone()
    except psycopg.Error as exc:
        return Check(
            key,
            name,
            DOWN,
            f"Cannot connect to {parts.host}:{parts.port}/{parts.name} as the health user "
            f"{user}: {type(exc).__name__}.",
        )
    version = f"PostgreSQL {row[0]}" if row else None
    return Check(
        key,
        name,
        UP,
        f"Checked directly as the read-only health user {user}.",
        latency,
        version,
    )


def derived_database_check(
    key: str,
    name: str,
    parts: DatabaseParts | None,
    service: Check,
    version: str | None = None,
) -> Check:
    """A database row from its service's health: the console holds no credentials for it."""
    where = f" ({parts.redacted_url()})" if parts else ""
    no_credentials = (
        "The console has no credentials for this database, so it is not checked directly"
    )
    if service.state == UP:
        state, said = NOT_CHECKED, f"{service.name} is up, so its database probably answers"
    elif service.state == STARTING:
        state, said = STARTING, f"{service.name} is still starting"
    elif service.state == NOT_CONFIGURED:
        state, said = NOT_CONFIGURED, f"{service.name} is not configured"
    else:
        state, said = UNKNOWN, f"{service.name} is down, so the state of its database is unknown"
    return Check(
        key,
        name,
        state,
        f"{no_credentials}; {said}.{where}",
        None,
        version,
        required=False,
    )


# -- the services -------------------------------------------------------------------------------


def _probe_limits() -> Limits:
    return Limits(connect_timeout=PROBE_CONNECT_TIMEOUT, read_timeout=PROBE_READ_TIMEOUT)


def check_fhir(
    settings: Settings,
    memory: ServiceMemory,
    grace_seconds: float,
    *,
    request_id: Callable[[], str | None] | None = None,
    on_call: Callable[[str, str, int | None, float], None] | None = None,
    required: bool = True,
) -> Check:
    """``GET {FHIR_SERVER_URL}/metadata``: the CapabilityStatement's software version."""
    from console.upstream.errors import UpstreamMalformed, UpstreamUnavailable
    from console.upstream.health import probe_fhir

    name = "HAPI FHIR"
    if not settings.FHIR_SERVER_URL:
        return Check("fhir", name, NOT_CONFIGURED, "FHIR_SERVER_URL is not set.", required=required)
    health = probe_fhir(settings, _probe_limits(), request_id=request_id, on_call=on_call)
    exc = health.error
    if isinstance(exc, UpstreamMalformed):
        return Check(
            "fhir",
            name,
            DOWN,
            f"{settings.FHIR_SERVER_URL}/metadata is not a CapabilityStatement: {exc.diagnostics}",
            health.latency_ms,
            required=required,
        )
    if exc is not None:
        state = memory.failing_state("fhir", grace_seconds)
        answered = not isinstance(exc, UpstreamUnavailable) and exc.status is not None
        what = f"answered {exc.status}" if answered else "does not answer"
        hint = " HAPI FHIR takes one to two minutes to start." if state == STARTING else ""
        return Check(
            "fhir",
            name,
            state,
            f"{settings.FHIR_SERVER_URL} {what} ({type(exc).__name__}).{hint}",
            health.latency_ms if answered else None,
            required=required,
        )
    memory.record_up("fhir")
    fhir_version = health.facts.get("fhir_version")
    return Check(
        "fhir",
        name,
        UP,
        f"{settings.FHIR_SERVER_URL}, FHIR {fhir_version or 'version not stated'}.",
        health.latency_ms,
        health.version,
        required=required,
    )


def check_ehrbase(
    settings: Settings,
    memory: ServiceMemory,
    grace_seconds: float,
    *,
    request_id: Callable[[], str | None] | None = None,
    on_call: Callable[[str, str, int | None, float], None] | None = None,
    required: bool = True,
) -> Check:
    """``GET {EHRBASE_URL}/rest/status`` with the API user: EHRbase's version."""
    from console.openehr import errors
    from console.upstream.errors import UpstreamMalformed
    from console.upstream.health import probe_ehrbase

    name = "EHRbase"
    if not settings.EHRBASE_URL:
        return Check("ehrbase", name, NOT_CONFIGURED, "EHRBASE_URL is not set.", required=required)
    if not settings.EHRBASE_API_USER or not settings.EHRBASE_API_PASSWORD:
        return Check(
            "ehrbase",
            name,
            DOWN,
            "EHRBASE_API_USER and EHRBASE_API_PASSWORD must be set: /rest/status needs them.",
            required=required,
        )
    health = probe_ehrbase(settings, _probe_limits(), request_id=request_id, on_call=on_call)
    exc = health.error
    if isinstance(exc, UpstreamMalformed):
        return Check(
            "ehrbase",
            name,
            DOWN,
            f"{settings.EHRBASE_URL}/rest/status answered something unreadable: {exc.message}",
            health.latency_ms,
            required=required,
        )
    if exc is not None:
        state = memory.failing_state("ehrbase", grace_seconds)
        answered = exc.status is not None
        if isinstance(exc, errors.EhrbaseUnauthorised):
            what = (
                "answers 401 (it does so while starting)"
                if state == STARTING
                else "refused the credentials of EHRBASE_API_USER (401)"
            )
        elif answered:
            what = f"answered {exc.status}"
        else:
            what = "does not answer"
        hint = " EHRbase takes one to two minutes to start." if state == STARTING else ""
        return Check(
            "ehrbase",
            name,
            state,
            f"{settings.EHRBASE_URL} {what} ({type(exc).__name__}).{hint}",
            health.latency_ms if answered else None,
            required=required,
        )
    memory.record_up("ehrbase")
    sdk = health.facts.get("openehr_sdk_version")
    return Check(
        "ehrbase",
        name,
        UP,
        f"{settings.EHRBASE_URL}, openEHR SDK {sdk or 'not stated'}.",
        health.latency_ms,
        health.version,
        required=required,
        extra={"postgres_version": health.facts.get("postgres_version")},
    )


# -- everything -------------------------------------------------------------------------------


@dataclass(frozen=True)
class HealthCredentials:
    """Optional read-only credentials for checking the FHIR and EHRbase databases directly."""

    fhir: tuple[str, Secret] | None = None
    ehrbase: tuple[str, Secret] | None = None


@dataclass(frozen=True)
class Report:
    """Every check, in display order."""

    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        """True when nothing required is failing."""
        return all(check.ok for check in self.checks)

    @property
    def any_starting(self) -> bool:
        """True while a service is still starting (the status page refreshes itself)."""
        return any(check.state == STARTING for check in self.checks)

    def by_key(self, key: str) -> Check:
        """The check with this key."""
        return next(check for check in self.checks if check.key == key)


def run_checks(
    settings: Settings,
    engine: Engine,
    heads: tuple[str, ...],
    memory: ServiceMemory,
    *,
    grace_seconds: float = DEFAULT_STARTUP_GRACE_SECONDS,
    credentials: HealthCredentials | None = None,
    request_id: Callable[[], str | None] | None = None,
    hooks: dict[str, Callable[[str, str, int | None, float], None]] | None = None,
) -> Report:
    """Check the auth database, HAPI FHIR and EHRbase (in parallel) and derive the rest.

    Services are required when configured, and always in production.
    """
    credentials = credentials or HealthCredentials()
    hooks = hooks or {}
    fhir_required = bool(settings.FHIR_SERVER_URL) or settings.is_production
    ehrbase_required = bool(settings.EHRBASE_URL) or settings.is_production
    with ThreadPoolExecutor(max_workers=2) as pool:
        fhir_future = pool.submit(
            check_fhir,
            settings,
            memory,
            grace_seconds,
            request_id=request_id,
            on_call=hooks.get("fhir"),
            required=fhir_required,
        )
        ehrbase_future = pool.submit(
            check_ehrbase,
            settings,
            memory,
            grace_seconds,
            request_id=request_id,
            on_call=hooks.get("ehrbase"),
            required=ehrbase_required,
        )
        auth = check_auth_database(engine, heads, settings)
        fhir = fhir_future.result()
        ehrbase = ehrbase_future.result()

    if credentials.fhir and settings.FHIR_DB:
        fhir_db = check_database_directly(
            "fhir_db", "FHIR database", settings.FHIR_DB, *credentials.fhir
        )
    else:
        fhir_db = derived_database_check("fhir_db", "FHIR database", settings.FHIR_DB, fhir)
    if credentials.ehrbase and settings.EHRBASE_DB:
        ehrbase_db = check_database_directly(
            "ehrbase_db", "EHRbase database", settings.EHRBASE_DB, *credentials.ehrbase
        )
    else:
        reported = ehrbase.extra.get("postgres_version") or ""
        postgres = " ".join(reported.split()[:2]) or None  # "PostgreSQL 16.2 on x86_64…"
        ehrbase_db = derived_database_check(
            "ehrbase_db", "EHRbase database", settings.EHRBASE_DB, ehrbase, postgres
        )
    return Report((auth, fhir_db, ehrbase_db, fhir, ehrbase))
