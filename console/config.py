"""Typed, validated settings read from the environment (and a ``.env`` file).

``load_settings(environ)`` turns environment variables into a frozen ``Settings`` object with
the computed database URLs. ``settings`` is the settings of the running app inside an app
context, or of the process environment outside one. Secrets are wrapped in ``Secret`` so that
``repr``, logs and error messages never show them.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import click
from dotenv import dotenv_values
from werkzeug.local import LocalProxy

ENVIRONMENTS = ("development", "testing", "production")
WEAK_SECRET_KEYS = {"", "dev", "development", "secret", "changeme", "change-me", "please-change-me"}
MIN_SECRET_KEY_LENGTH = 32
MAX_PROXY_HOPS = 5
DEFAULT_INSTANCE_PATH = Path(__file__).resolve().parent.parent / "instance"


class ConfigError(click.ClickException, ValueError):
    """A configuration variable is missing or invalid; the message names the variable.

    A ``ClickException``, so ``flask --app console ...`` commands (``check`` above all) print
    ``Error: <message>`` and exit 1 instead of a traceback when the app cannot be built.
    """


class Secret:
    """A string that never shows itself in ``str``, ``repr`` or f-strings."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret value, for the one place that needs it."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and secrets.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "Secret('********')" if self._value else "Secret('')"

    __str__ = __repr__


@dataclass(frozen=True)
class Deprecation:
    """A deprecated variable found in the environment and what replaces it."""

    name: str
    replacement: str

    @property
    def message(self) -> str:
        """The warning shown at start-up and on the status page."""
        return f"{self.name} is deprecated and no longer read; use {self.replacement} instead."


DEPRECATED_VARIABLES: dict[str, str] = {
    "POSTGRES_USER": "AUTH_DB_USER (and FHIR_DB_USER / EHRBASE_DB_USER for the other databases)",
    "POSTGRES_PASSWORD": "AUTH_DB_PASSWORD (and FHIR_DB_PASSWORD / EHRBASE_DB_PASSWORD)",
    "POSTGRES_DB": "AUTH_DB_NAME (and FHIR_DB_NAME / EHRBASE_DB_NAME)",
    "DATABASE_URL": "AUTH_DB_NAME, AUTH_DB_USER, AUTH_DB_PASSWORD, AUTH_DB_HOST, AUTH_DB_PORT "
    "(AUTH_DATABASE_URL is computed from them)",
    "EHRBASE_USER": "EHRBASE_API_USER",
    "EHRBASE_PASSWORD": "EHRBASE_API_PASSWORD",
}
# Which new variables must be present in production when a deprecated one is still set.
DEPRECATED_REQUIRES: dict[str, tuple[str, ...]] = {
    "POSTGRES_USER": ("AUTH_DB_USER",),
    "POSTGRES_PASSWORD": ("AUTH_DB_PASSWORD",),
    "POSTGRES_DB": ("AUTH_DB_NAME",),
    "DATABASE_URL": ("AUTH_DB_NAME", "AUTH_DB_USER", "AUTH_DB_HOST"),
    "EHRBASE_USER": ("EHRBASE_API_USER",),
    "EHRBASE_PASSWORD": ("EHRBASE_API_PASSWORD",),
}


@dataclass(frozen=True)
class DatabaseParts:
    """The five variables of one database."""

    name: str
    user: str
    password: Secret
    host: str
    port: int

    def url(self, driver: str = "postgresql+psycopg") -> Secret:
        """The SQLAlchemy URL with user and password URL-quoted."""
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password.reveal(), safe="")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return Secret(f"{driver}://{auth}@{host}:{self.port}/{quote(self.name, safe='')}")

    def redacted_url(self) -> str:
        """The URL with the password replaced by asterisks."""
        password = ":********" if self.password else ""
        return f"postgresql://{self.user}{password}@{self.host}:{self.port}/{self.name}"


@dataclass(frozen=True)
class Settings:
    """Everything the console reads from its environment."""

    CONSOLE_ENV: str
    SECRET_KEY: Secret
    AUTH_DB: DatabaseParts | None
    AUTH_DATABASE_URL: Secret
    FHIR_DB: DatabaseParts | None
    FHIR_DATABASE_URL: Secret | None
    EHRBASE_DB: DatabaseParts | None
    EHRBASE_DATABASE_URL: Secret | None
    FHIR_SERVER_URL: str | None
    FHIR_AUTH_TOKEN: Secret
    FHIR_AUTH_USER: str | None
    FHIR_AUTH_PASSWORD: Secret
    EHRBASE_URL: str | None
    EHRBASE_API_USER: str | None
    EHRBASE_API_PASSWORD: Secret
    EHRBASE_API_ADMIN_USER: str | None
    EHRBASE_API_ADMIN_PASSWORD: Secret
    RATELIMIT_STORAGE_URI: str
    HTTPS: bool
    PROXY_HOPS: int
    LOG_LEVEL: str
    OIDC_ISSUER: str | None = None
    OIDC_CLIENT_ID: str | None = None
    OIDC_CLIENT_SECRET: Secret = field(default_factory=lambda: Secret(""))
    deprecations: tuple[Deprecation, ...] = field(default_factory=tuple)

    @property
    def is_production(self) -> bool:
        """True when running as a real deployment."""
        return self.CONSOLE_ENV == "production"

    @property
    def sso_enabled(self) -> bool:
        """True when sign-in with the organisation's identity provider is configured."""
        return bool(self.OIDC_ISSUER and self.OIDC_CLIENT_ID)

    @property
    def fhir_bearer_token(self) -> str | None:
        """The bearer token for HAPI FHIR, or None."""
        return self.FHIR_AUTH_TOKEN.reveal() or None

    @property
    def ehrbase_accounts(self) -> dict[str, str | None]:
        """The EHRbase API user and admin, as ``EhrbaseClient`` keyword arguments."""
        return {
            "user": self.EHRBASE_API_USER,
            "password": self.EHRBASE_API_PASSWORD.reveal(),
            "admin_user": self.EHRBASE_API_ADMIN_USER,
            "admin_password": self.EHRBASE_API_ADMIN_PASSWORD.reveal(),
        }

    @property
    def fhir_basic_auth(self) -> tuple[str, str] | None:
        """Basic credentials for HAPI FHIR, or None."""
        if not self.FHIR_AUTH_USER:
            return None
        return self.FHIR_AUTH_USER, self.FHIR_AUTH_PASSWORD.reveal()

    @property
    def uses_sqlite(self) -> bool:
        """True when the auth database is the embedded SQLite file."""
        return self.AUTH_DATABASE_URL.reveal().startswith("sqlite")

    def redacted(self) -> dict[str, str]:
        """The effective configuration for display, secrets replaced by asterisks."""
        shown: dict[str, str] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name in ("AUTH_DB", "FHIR_DB", "EHRBASE_DB", "deprecations"):
                continue
            if item.name.endswith("_DATABASE_URL"):
                parts = getattr(self, item.name.replace("_DATABASE_URL", "_DB"))
                shown[item.name] = parts.redacted_url() if parts else _plain_or_unset(value)
            elif isinstance(value, Secret):
                shown[item.name] = "********" if value else "(not set)"
            else:
                shown[item.name] = "(not set)" if value is None else str(value)
        return shown


def _plain_or_unset(value: Secret | None) -> str:
    if value is None:
        return "(not set)"
    return value.reveal() if value.reveal().startswith("sqlite") else "********"


def _text(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = _text(env, name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, not {value!r}.")


def _port(env: Mapping[str, str], name: str) -> int:
    value = _text(env, name)
    if value is None:
        return 5432
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise ConfigError(f"{name} must be a port number from 1 to 65535, not {value!r}.")
    return int(value)


def _proxy_hops(env: Mapping[str, str], name: str) -> int:
    value = _text(env, name)
    if value is None:
        return 0
    if not value.isdigit() or int(value) > MAX_PROXY_HOPS:
        raise ConfigError(
            f"{name} must be the number of reverse proxies in front of the console, "
            f"0 to {MAX_PROXY_HOPS}, not {value!r}."
        )
    return int(value)


def _http_url(env: Mapping[str, str], name: str) -> str | None:
    value = _text(env, name)
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{name} must be an http:// or https:// URL, not {value!r}.")
    if parts.username or parts.password:
        raise ConfigError(
            f"{name} must not carry credentials; use the *_USER/*_PASSWORD variables."
        )
    return value.rstrip("/")


def _database(env: Mapping[str, str], prefix: str) -> DatabaseParts | None:
    names = {part: f"{prefix}_DB_{part}" for part in ("NAME", "USER", "PASSWORD", "HOST", "PORT")}
    present = {part for part, name in names.items() if _text(env, name) is not None}
    if not present:
        return None
    missing = [names[p] for p in ("NAME", "USER", "HOST") if p not in present]
    if missing:
        raise ConfigError(
            f"{', '.join(missing)} must be set when any {prefix}_DB_* variable is set "
            f"(found {', '.join(sorted(names[p] for p in present))})."
        )
    return DatabaseParts(
        name=_text(env, names["NAME"]) or "",
        user=_text(env, names["USER"]) or "",
        password=Secret(env.get(names["PASSWORD"], "")),
        host=_text(env, names["HOST"]) or "",
        port=_port(env, names["PORT"]),
    )


def _secret_key(env: Mapping[str, str], environment: str, instance_path: Path) -> Secret:
    value = env.get("SECRET_KEY", "")
    weak = value.strip().lower() in WEAK_SECRET_KEYS or len(value) < MIN_SECRET_KEY_LENGTH
    if environment == "production" and weak:
        raise ConfigError(
            f"SECRET_KEY must be set to a random value of at least {MIN_SECRET_KEY_LENGTH} "
            'characters in production (e.g. python -c "import secrets; print(secrets.token_hex(32))").'
        )
    if value:
        return Secret(value)
    if environment == "testing":
        return Secret(secrets.token_hex(32))
    return Secret(_development_secret_key(instance_path))


def _development_secret_key(instance_path: Path) -> str:
    """A random key kept under instance/ so development sessions survive restarts."""
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


def _oidc(env: Mapping[str, str]) -> dict[str, Any]:
    """The identity provider's issuer and the console's client: all or none of the three."""
    issuer = _http_url(env, "OIDC_ISSUER")
    client_id = _text(env, "OIDC_CLIENT_ID")
    secret = Secret(env.get("OIDC_CLIENT_SECRET", ""))
    given = {
        name
        for name, value in (
            ("OIDC_ISSUER", issuer),
            ("OIDC_CLIENT_ID", client_id),
            ("OIDC_CLIENT_SECRET", secret),
        )
        if value
    }
    if given and len(given) < 3:
        missing = sorted({"OIDC_ISSUER", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET"} - given)
        raise ConfigError(
            f"{', '.join(missing)} must be set when any OIDC_* variable is set "
            "(single sign-on needs the issuer, the client id and the client secret)."
        )
    return {"OIDC_ISSUER": issuer, "OIDC_CLIENT_ID": client_id, "OIDC_CLIENT_SECRET": secret}


def read_environment(dotenv_path: str | Path | None = ".env") -> dict[str, str]:
    """The process environment over the values of a ``.env`` file (the environment wins)."""
    values: dict[str, str] = {}
    if dotenv_path is not None and Path(dotenv_path).is_file():
        values.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    values.update(os.environ)
    return values


def load_settings(
    environ: Mapping[str, str] | None = None, instance_path: Path = DEFAULT_INSTANCE_PATH
) -> Settings:
    """Parse and validate settings; raise ``ConfigError`` naming the bad variable."""
    env = read_environment() if environ is None else environ
    environment = (_text(env, "CONSOLE_ENV") or "development").lower()
    if environment not in ENVIRONMENTS:
        raise ConfigError(
            f"CONSOLE_ENV must be one of {', '.join(ENVIRONMENTS)}, not {environment!r}."
        )

    deprecations = tuple(
        Deprecation(name, replacement)
        for name, replacement in DEPRECATED_VARIABLES.items()
        if _text(env, name) is not None
    )
    if environment == "production":
        for item in deprecations:
            missing = [n for n in DEPRECATED_REQUIRES[item.name] if _text(env, n) is None]
            if missing:
                raise ConfigError(f"{item.message} {', '.join(missing)} is not set.")

    auth_db = _database(env, "AUTH")
    if auth_db is None:
        if environment == "production":
            raise ConfigError(
                "AUTH_DB_NAME, AUTH_DB_USER and AUTH_DB_HOST must be set in production; "
                "the embedded SQLite database is for development only."
            )
        auth_url = Secret(f"sqlite:///{instance_path / 'quill_auth.sqlite3'}")
    else:
        auth_url = auth_db.url()
    fhir_db = _database(env, "FHIR")
    ehrbase_db = _database(env, "EHRBASE")

    log_level = (_text(env, "LOG_LEVEL") or "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError(
            f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {log_level!r}."
        )

    return Settings(
        CONSOLE_ENV=environment,
        SECRET_KEY=_secret_key(env, environment, instance_path),
        AUTH_DB=auth_db,
        AUTH_DATABASE_URL=auth_url,
        FHIR_DB=fhir_db,
        FHIR_DATABASE_URL=fhir_db.url() if fhir_db else None,
        EHRBASE_DB=ehrbase_db,
        EHRBASE_DATABASE_URL=ehrbase_db.url() if ehrbase_db else None,
        FHIR_SERVER_URL=_http_url(env, "FHIR_SERVER_URL"),
        FHIR_AUTH_TOKEN=Secret(env.get("FHIR_AUTH_TOKEN", "")),
        FHIR_AUTH_USER=_text(env, "FHIR_AUTH_USER"),
        FHIR_AUTH_PASSWORD=Secret(env.get("FHIR_AUTH_PASSWORD", "")),
        EHRBASE_URL=_http_url(env, "EHRBASE_URL"),
        EHRBASE_API_USER=_text(env, "EHRBASE_API_USER"),
        EHRBASE_API_PASSWORD=Secret(env.get("EHRBASE_API_PASSWORD", "")),
        EHRBASE_API_ADMIN_USER=_text(env, "EHRBASE_API_ADMIN_USER"),
        EHRBASE_API_ADMIN_PASSWORD=Secret(env.get("EHRBASE_API_ADMIN_PASSWORD", "")),
        RATELIMIT_STORAGE_URI=_text(env, "RATELIMIT_STORAGE_URI") or "memory://",
        HTTPS=_bool(env, "CONSOLE_HTTPS", default=False),
        PROXY_HOPS=_proxy_hops(env, "CONSOLE_PROXY_HOPS"),
        LOG_LEVEL=log_level,
        **_oidc(env),
        deprecations=deprecations,
    )


_process_settings: Settings | None = None


def _current_settings() -> Settings:
    from flask import current_app, has_app_context

    if has_app_context() and "SETTINGS" in current_app.config:
        return current_app.config["SETTINGS"]
    global _process_settings
    if _process_settings is None:
        _process_settings = load_settings()
    return _process_settings


settings: Any = LocalProxy(_current_settings)
"""The running app's ``Settings`` (or the process environment's outside an app)."""
