"""Quill Console: the admin web console of the Quill clinical platform.

``create_app`` builds the Flask app: settings, the auth database, the extensions
(``console.extensions``: CSRF, migrate, htmx, rate limits), the capability blueprints, error
pages, security headers and the command-line groups.

Every capability (``home``, ``auth``, ``admin``, ``patients``, ``letters``, ``ops``,
``sandbox``) is a package of one shape: ``__init__.py`` (its blueprint ``bp`` and
``init_app``), ``views.py`` (routes: no SQL, no HTTP), ``services.py`` (one transaction per
change, its audit row inside it), ``forms.py`` and ``cli.py`` where it has them. ``admin`` has
one sub-package per sub-feature (``users``, ``roles``, ``sessions``, ``settings``, ``audit``),
each registering on the one admin blueprint. Shared: ``web/`` (htmx, query parsing, keyset
paging, CSV), ``db/`` (models), ``audit.py``, ``permissions.py``, ``appsettings.py`` (the settings
catalogue), ``config.py``; the upstream clients in ``fhir/`` and ``openehr/``.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from console.config import Secret, Settings, load_settings
from console.extensions import csrf, htmx, limiter, migrate

ROOT = Path(__file__).resolve().parent.parent
CAPABILITIES = ("home", "auth", "sso", "admin", "patients", "letters", "ops", "sandbox")
CLI_GROUPS = (
    ("console.admin.users.cli", "users_cli"),
    ("console.ops.cli", "check_command"),
    ("console.sandbox.cli", "sandbox_cli"),
    ("console.letters.cli", "ehrbase_cli"),
)


def _settings_with_overrides(overrides: dict[str, Any], instance_path: Path) -> Settings:
    """Settings from the environment (or an ``ENVIRON`` mapping) with field overrides applied."""
    settings = load_settings(overrides.pop("ENVIRON", None), instance_path=instance_path)
    names = {f.name for f in dataclasses.fields(Settings)}
    changes = {k: overrides.pop(k) for k in list(overrides) if k in names}
    for key, value in changes.items():
        if isinstance(value, str) and isinstance(getattr(settings, key), Secret):
            changes[key] = Secret(value)
    return dataclasses.replace(settings, **changes) if changes else settings


def create_app(config_overrides: dict[str, Any] | None = None) -> Flask:
    """Build the console. ``config_overrides`` may hold Flask config keys, ``Settings`` fields
    (e.g. ``AUTH_DATABASE_URL``) and ``ENVIRON`` (a mapping read instead of the environment)."""
    overrides = dict(config_overrides or {})
    instance_path = Path(
        overrides.pop("INSTANCE_PATH", None)
        or os.environ.get("CONSOLE_INSTANCE_PATH")
        or ROOT / "instance"
    )
    app = Flask(
        __name__,
        instance_path=str(instance_path),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    settings = _settings_with_overrides(overrides, instance_path)
    auth_url = settings.AUTH_DATABASE_URL.reveal()
    if auth_url.startswith("sqlite:///"):
        Path(auth_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)

    from console.db import engine_options

    app.config.update(
        SETTINGS=settings,
        TESTING=settings.CONSOLE_ENV == "testing",
        SECRET_KEY=settings.SECRET_KEY.reveal(),
        SQLALCHEMY_DATABASE_URI=auth_url,
        SQLALCHEMY_ENGINE_OPTIONS=engine_options(auth_url),
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.HTTPS,
        REMEMBER_COOKIE_DURATION=0,
        WTF_CSRF_TIME_LIMIT=None,
        RATELIMIT_STORAGE_URI=settings.RATELIMIT_STORAGE_URI,
        # Shared storage (Redis) down: count in memory meanwhile, never fail the sign-in page.
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        RATELIMIT_SWALLOW_ERRORS=True,
        RATELIMIT_HEADERS_ENABLED=True,
        CONSOLE_VERSION=_version(),
    )
    app.config.update(overrides)
    if settings.PROXY_HOPS:
        hops = settings.PROXY_HOPS
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)  # type: ignore[method-assign]
    _init_extensions(app)
    _register_capabilities(app)
    _register_cli(app)
    return app


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("quill-console")
    except Exception:
        return "0.0.0+source"


def _init_extensions(app: Flask) -> None:
    from console import db as auth_db
    from console import errors, security_headers
    from console.permissions import enforce_declared_permissions
    from console.templating import init_app as init_templating

    auth_db.init_app(app)
    migrate.init_app(app, auth_db.db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    htmx.init_app(app)
    limiter.init_app(app)
    app.before_request(enforce_declared_permissions)
    errors.init_app(app)
    security_headers.init_app(app)
    init_templating(app)


def _register_capabilities(app: Flask) -> None:
    """Register each capability's blueprint and call its ``init_app`` when it has one."""
    for name in CAPABILITIES:
        module = importlib.import_module(f"console.{name}")
        if hasattr(module, "init_app"):
            module.init_app(app)
        if hasattr(module, "bp"):
            app.register_blueprint(module.bp)


def _register_cli(app: Flask) -> None:
    for module_name, attribute in CLI_GROUPS:
        module = importlib.import_module(module_name)
        app.cli.add_command(getattr(module, attribute))
