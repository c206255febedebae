"""The platform's names and secrets, as ``.env.example`` names them, and the servers it runs.

Names are those of ``.env.example``; passwords are made once per checkout and kept in the
git-ignored ``.stack/credentials.json`` (readable by its owner only), so a restarted cluster and
its servers keep agreeing on them.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable

from stack.spec import STATE_DIR, ServerSpec, port

SERVERS: tuple[str, ...] = ("postgres", "ehrbase", "hapi")
"""The servers ``make stack`` and the live test tier start, in start order."""

NAMES = {
    "AUTH_DB_NAME": "quill_auth",
    "AUTH_DB_USER": "auth_user",
    "FHIR_DB_NAME": "hapi",
    "FHIR_DB_USER": "hapi_user",
    "EHRBASE_DB_NAME": "ehrbase",
    "EHRBASE_DB_USER": "ehrbase_user",
    "EHRBASE_DB_OWNER_USER": "ehrbase_owner",
    "EHRBASE_API_USER": "quill-console",
    "EHRBASE_API_ADMIN_USER": "quill-console-admin",
}
SECRETS = (
    "AUTH_DB_PASSWORD",
    "FHIR_DB_PASSWORD",
    "EHRBASE_DB_PASSWORD",
    "EHRBASE_DB_OWNER_PASSWORD",
    "EHRBASE_API_PASSWORD",
    "EHRBASE_API_ADMIN_PASSWORD",
)
CREDENTIALS_FILE = STATE_DIR / "credentials.json"


def settings() -> dict[str, str]:
    """Every name and password of the platform, keyed by its ``.env`` variable name."""
    stored: dict[str, str] = {}
    if CREDENTIALS_FILE.exists():
        stored = json.loads(CREDENTIALS_FILE.read_text())
    missing = [name for name in SECRETS if not stored.get(name)]
    if missing:
        stored.update({name: secrets.token_urlsafe(24) for name in missing})
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        temporary = CREDENTIALS_FILE.with_suffix(".tmp")
        with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            json.dump(stored, f, indent=2)
        temporary.replace(CREDENTIALS_FILE)
    return {**NAMES, **{name: stored[name] for name in SECRETS}}


def _ehrbase_spec(values: dict[str, str]) -> ServerSpec:
    from stack import ehrbase

    ehrbase.build()
    return ehrbase.spec(values, db_port=port("postgres"), port=port("ehrbase"))


def _hapi_spec(values: dict[str, str]) -> ServerSpec:
    try:
        from stack import hapi
    except ModuleNotFoundError as exc:
        raise LauncherMissing(
            "stack/hapi.py is missing: the HAPI FHIR launcher is needed for the 'hapi' server"
        ) from exc
    hapi.build()
    return hapi.spec(
        db_url=f"jdbc:postgresql://127.0.0.1:{port('postgres')}/{values['FHIR_DB_NAME']}",
        db_user=values["FHIR_DB_USER"],
        db_password=values["FHIR_DB_PASSWORD"],
        port=port("hapi"),
    )


LAUNCHERS: dict[str, Callable[[dict[str, str]], ServerSpec]] = {
    "ehrbase": _ehrbase_spec,
    "hapi": _hapi_spec,
}
"""Builds (cached) and describes each Java server; PostgreSQL is started by ``stack.postgres``."""


class LauncherMissing(RuntimeError):
    """A server named in ``SERVERS`` has no launcher module in this checkout."""


def specs(names: tuple[str, ...] = SERVERS) -> list[ServerSpec]:
    """Build and describe the Java servers among ``names`` (PostgreSQL is not one of them)."""
    values = settings()
    return [LAUNCHERS[name](values) for name in names if name != "postgres"]


def live_environment(names: tuple[str, ...] = SERVERS) -> dict[str, str]:
    """The ``LIVE_*`` variables the live tests read: where each running server answers."""
    values = settings()
    env: dict[str, str] = {}
    if "ehrbase" in names:
        env.update(
            {
                "LIVE_EHRBASE_URL": f"http://127.0.0.1:{port('ehrbase')}/ehrbase",
                "LIVE_EHRBASE_USER": values["EHRBASE_API_USER"],
                "LIVE_EHRBASE_PASSWORD": values["EHRBASE_API_PASSWORD"],
                "LIVE_EHRBASE_ADMIN_USER": values["EHRBASE_API_ADMIN_USER"],
                "LIVE_EHRBASE_ADMIN_PASSWORD": values["EHRBASE_API_ADMIN_PASSWORD"],
            }
        )
    if "hapi" in names:
        env["LIVE_FHIR_URL"] = f"http://127.0.0.1:{port('hapi')}/fhir"
    return env
