"""The platform's names and secrets, as ``.env.example`` names them, and the servers it runs.

Names are those of ``.env.example`` (and the single sign-on test user's password); passwords
are made once per checkout and kept in the git-ignored ``.stack/credentials.json`` (readable by
its owner only), so a restarted cluster and its servers keep agreeing on them.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from stack import keycloak
from stack.spec import STATE_DIR, ServerSpec, port

SERVERS: tuple[str, ...] = ("postgres", "ehrbase", "hapi")
"""The servers ``make stack`` and the live test tier start, in start order. ``make stack``
also starts Keycloak (``keycloak_spec``); the single sign-on tests start their own."""

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
    "OIDC_CLIENT_SECRET",
    "SSO_TEST_USER_PASSWORD",
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


def sso_test_user(values: dict[str, str]) -> keycloak.TestUser:
    """The realm's test user (realm role ``clinician``, mapped to Clinician), with this
    checkout's password."""
    return dataclasses.replace(keycloak.SSO_TEST_USER, password=values["SSO_TEST_USER_PASSWORD"])


STACK_REALM_FILE = STATE_DIR / "keycloak" / "stack-realm.json"


def write_stack_realm(
    values: dict[str, str], console_url: str, path: Path = STACK_REALM_FILE
) -> Path:
    """The realm of ``make stack`` for the console served at ``console_url``: the confidential
    client with this checkout's secret, and the test user."""
    return keycloak.write_realm(
        path,
        console_url,
        users=(sso_test_user(values),),
        client_secret=values["OIDC_CLIENT_SECRET"],
    )


def keycloak_spec(values: dict[str, str], console_url: str) -> ServerSpec:
    """Keycloak (fetched once from Maven Central) importing ``write_stack_realm``'s realm."""
    home = keycloak.fetch()
    realm = write_stack_realm(values, console_url)
    return keycloak.spec(
        port("keycloak"), realm, management_port=port("keycloak_management"), home=home
    )


def sso_environment(values: dict[str, str]) -> dict[str, str]:
    """The console's ``OIDC_*`` variables for the realm of ``keycloak_spec``."""
    return {
        "OIDC_ISSUER": keycloak.issuer(port("keycloak")),
        "OIDC_CLIENT_ID": keycloak.CLIENT_ID,
        "OIDC_CLIENT_SECRET": values["OIDC_CLIENT_SECRET"],
    }


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
