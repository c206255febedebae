"""``make stack``'s single sign-on: the Keycloak realm it imports, the console's ``OIDC_*``
variables and ``sso.*`` settings that fit it, and the lines it prints (without starting it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from console.appsettings import CATALOGUE, get_setting, store_setting
from console.db import db
from console.db.models import Role
from console.sso.mapping import claim_values, mapped_roles, parse_role_mapping
from stack import keycloak, platform
from stack.sandbox import configure_sso, credentials

CONSOLE_URL = "http://127.0.0.1:28190"
VALUES = {"OIDC_CLIENT_SECRET": "this-checkouts-client-secret", "SSO_TEST_USER_PASSWORD": "pw-1"}


@pytest.fixture
def realm(tmp_path: Path) -> dict[str, object]:
    path = platform.write_stack_realm(VALUES, CONSOLE_URL, tmp_path / "realm.json")
    return json.loads(path.read_text())


def test_the_realm_registers_the_console_as_a_confidential_client(
    realm: dict[str, object],
) -> None:
    (client,) = realm["clients"]  # type: ignore[misc]
    assert client["clientId"] == keycloak.CLIENT_ID
    assert client["publicClient"] is False
    assert client["secret"] == VALUES["OIDC_CLIENT_SECRET"]
    assert client["redirectUris"] == [f"{CONSOLE_URL}/auth/sso/callback"]
    attributes = client["attributes"]
    assert attributes["backchannel.logout.url"] == f"{CONSOLE_URL}/auth/sso/backchannel-logout"
    assert attributes["post.logout.redirect.uris"] == f"{CONSOLE_URL}/*"


def test_the_consoles_variables_name_the_realm_and_its_client(
    realm: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STACK_KEYCLOAK_PORT", "28183")
    env = platform.sso_environment(VALUES)
    (client,) = realm["clients"]  # type: ignore[misc]
    assert env == {
        "OIDC_ISSUER": f"http://127.0.0.1:28183/realms/{realm['realm']}",
        "OIDC_CLIENT_ID": client["clientId"],
        "OIDC_CLIENT_SECRET": client["secret"],
    }


def test_the_test_user_signs_in_with_this_checkouts_password_and_maps_to_clinician(
    realm: dict[str, object], app: Flask
) -> None:
    (user,) = realm["users"]  # type: ignore[misc]
    assert user["username"] == keycloak.SSO_TEST_USER.username
    assert user["credentials"][0]["value"] == VALUES["SSO_TEST_USER_PASSWORD"]
    assert user["emailVerified"] is True
    settings = keycloak.CONSOLE_SETTINGS
    # What the realm's role mapper puts in the ID token, read as the console reads it.
    token_claims = {"realm_access": {"roles": user["realmRoles"]}}
    values = claim_values(token_claims, str(settings["sso.roles_claim"]))
    roles = mapped_roles(values, parse_role_mapping(str(settings["sso.role_mapping"])))
    assert list(roles) == ["Clinician"]
    with app.app_context():
        known = set(db.session.scalars(select(Role.name)))
    mapped = parse_role_mapping(str(settings["sso.role_mapping"]))
    assert {role for names in mapped.values() for role in names} <= known


def test_the_settings_are_stored_once_and_an_administrators_change_stays(app: Flask) -> None:
    assert set(keycloak.CONSOLE_SETTINGS) <= set(CATALOGUE)
    assert configure_sso(app) == list(keycloak.CONSOLE_SETTINGS)
    with app.app_context():
        for key, value in keycloak.CONSOLE_SETTINGS.items():
            assert get_setting(key) == value
        store_setting("sso.role_mapping", "clinician = Auditor", None)
        db.session.commit()

    assert configure_sso(app) == []

    with app.app_context():
        assert get_setting("sso.role_mapping") == "clinician = Auditor"


def test_the_printed_lines_put_the_sso_user_beside_the_administrator() -> None:
    admin = "username: admin\npassword: secret-1\ntwo-factor key: ABC\n"
    user = platform.sso_test_user(VALUES)

    printed = credentials(admin, user, "http://127.0.0.1:28190/").splitlines()

    keys = [line.split(": ", 1)[0] for line in printed if ": " in line and line[0] != " "]
    assert keys == ["username", "password", "two-factor key", "sso-username", "sso-password", "url"]
    assert f"sso-username: {keycloak.SSO_TEST_USER.username}" in printed
    assert "sso-password: pw-1" in printed
    assert printed[-1] == "url: http://127.0.0.1:28190/"
