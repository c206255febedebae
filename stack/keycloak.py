"""Keycloak from Maven Central (``org.keycloak:keycloak-quarkus-dist``) as the platform's
OpenID Connect identity provider: fetched once into ``.stack/``, run with ``start-dev`` on
loopback over an in-memory database, with a realm imported from a JSON file.

``write_realm`` writes a realm the console can sign in with: a confidential client with the
console's redirect, post-logout and back-channel logout URIs, realm roles and groups put in
the ID token, and test users (``SSO_TEST_USER`` maps to the console's Clinician role).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from stack.spec import STATE_DIR, ServerSpec

VERSION = "26.7.3"
ARTIFACT = f"org.keycloak:keycloak-quarkus-dist:{VERSION}:tar.gz"
HOME = STATE_DIR / "keycloak" / f"keycloak-{VERSION}"
DOWNLOADS = STATE_DIR / "downloads"
MIN_JAVA = 21
REALM = "quill"
CLIENT_ID = "quill-console"
CLIENT_SECRET = "quill-console-test-secret"  # noqa: S105 (a loopback test realm's secret)
ADMIN = ("kcadmin", "kcadmin-test-password")


@dataclass(frozen=True)
class TestUser:
    """A user of the test realm."""

    username: str
    password: str
    email: str
    realm_roles: tuple[str, ...]


SSO_TEST_USER = TestUser(
    "sso.clinician", "Clinician-Pass-2026", "sso.clinician@example.org", ("clinician",)
)
"""The user ``make stack`` prints (``sso-username:``/``sso-password:``); mapped to Clinician."""

SSO_ROLE_MAPPING = "clinician = Clinician; auditor = Auditor; sysadmin = System administrator"
"""The console's ``sso.role_mapping`` setting that fits the test realm."""

CONSOLE_SETTINGS: dict[str, object] = {
    "sso.roles_claim": "realm_access.roles",
    "sso.role_mapping": SSO_ROLE_MAPPING,
    "sso.create_unknown_users": True,
}
"""The console's ``sso.*`` settings for the test realm: realm roles mapped to console roles,
and the test user's account made at its first sign-in."""


def fetch() -> Path:
    """The unpacked distribution's home folder, fetched from Maven Central once.

    Maven copies the archive into ``.stack/downloads`` (its own unpacker cuts the long file
    names of this tarball short, so Python's ``tarfile`` unpacks it).
    """
    if (HOME / "bin" / "kc.sh").is_file():
        return HOME
    archive = DOWNLOADS / f"keycloak-quarkus-dist-{VERSION}.tar.gz"
    if not archive.is_file():
        mvn = shutil.which("mvn")
        if mvn is None:
            raise RuntimeError("Maven (mvn) is needed to fetch Keycloak from Maven Central.")
        DOWNLOADS.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [mvn, "-q", "-B", "dependency:copy", f"-Dartifact={ARTIFACT}",
             f"-DoutputDirectory={DOWNLOADS}"],
            cwd=DOWNLOADS,
            check=True,
            timeout=1800,
        )  # fmt: skip
    partial = HOME.parent / "unpacking"
    shutil.rmtree(partial, ignore_errors=True)
    with tarfile.open(archive) as tar:
        tar.extractall(partial, filter="data")
    HOME.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(HOME, ignore_errors=True)
    (partial / HOME.name).rename(HOME)
    shutil.rmtree(partial, ignore_errors=True)
    if not (HOME / "bin" / "kc.sh").is_file():
        raise RuntimeError(f"Keycloak was unpacked, but {HOME}/bin/kc.sh is missing.")
    return HOME


def _java_major(home: Path) -> int:
    release = home / "release"
    if not release.is_file():
        return 0
    for line in release.read_text().splitlines():
        if line.startswith("JAVA_VERSION="):
            version = line.partition("=")[2].strip('"')
            major = version.split(".")[0]
            return int(major) if major.isdigit() else 0
    return 0


def java_home() -> Path | None:
    """A JDK recent enough for Keycloak (``KEYCLOAK_JAVA_HOME``, ``JAVA_HOME`` or one under
    ``/usr/lib/jvm``), or None."""
    candidates = [os.environ.get("KEYCLOAK_JAVA_HOME"), os.environ.get("JAVA_HOME")]
    jvm = Path("/usr/lib/jvm")
    if jvm.is_dir():
        candidates += [str(p) for p in sorted(jvm.iterdir(), reverse=True)]
    for candidate in candidates:
        home = Path(candidate) if candidate else None
        if home and (home / "bin" / "java").is_file() and _java_major(home) >= MIN_JAVA:
            return home
    return None


def issuer(port: int, realm: str = REALM) -> str:
    """The realm's issuer URL on loopback."""
    return f"http://127.0.0.1:{port}/realms/{realm}"


def spec(
    port: int,
    realm_file: Path,
    *,
    management_port: int | None = None,
    home: Path | None = None,
    admin: tuple[str, str] = ADMIN,
    realm: str = REALM,
) -> ServerSpec:
    """Keycloak in development mode on ``127.0.0.1:port`` importing ``realm_file``.

    The realm file is copied into the distribution's ``data/import`` folder (the only place
    ``--import-realm`` reads); the in-memory database makes every start import it afresh.
    Ready when the realm's discovery document answers.
    """
    home = home or HOME
    java = java_home()
    if java is None:
        raise RuntimeError(f"Keycloak needs Java {MIN_JAVA} or newer; none was found.")
    imports = home / "data" / "import"
    imports.mkdir(parents=True, exist_ok=True)
    for old in imports.glob("*.json"):
        old.unlink()
    shutil.copy(realm_file, imports / f"{realm}-realm.json")
    return ServerSpec(
        name="keycloak",
        command=(
            str(home / "bin" / "kc.sh"),
            "start-dev",
            "--http-host=127.0.0.1",
            f"--http-port={port}",
            f"--http-management-port={management_port or port + 1000}",
            "--db=dev-mem",
            "--import-realm",
            "--health-enabled=true",
            "--cache=local",
        ),
        env={
            "JAVA_HOME": str(java),
            "KC_BOOTSTRAP_ADMIN_USERNAME": admin[0],
            "KC_BOOTSTRAP_ADMIN_PASSWORD": admin[1],
            "JAVA_OPTS_KC_HEAP": "-XX:MaxRAMPercentage=25 -Xms64m -Xmx768m",
        },
        cwd=home,
        ready_url=issuer(port, realm) + "/.well-known/openid-configuration",
        ready_timeout_seconds=600.0,
    )


def _user(user: TestUser) -> dict[str, object]:
    first, _, last = user.username.partition(".")
    return {
        "username": user.username,
        "email": user.email,
        "emailVerified": True,
        "firstName": first.title(),
        "lastName": (last or "User").title(),
        "enabled": True,
        "credentials": [{"type": "password", "value": user.password, "temporary": False}],
        "realmRoles": ["default-roles-" + REALM, *user.realm_roles],
    }


def write_realm(
    path: Path,
    console_url: str,
    *,
    users: tuple[TestUser, ...] = (SSO_TEST_USER,),
    client_secret: str = CLIENT_SECRET,
) -> Path:
    """Write the test realm for a console served at ``console_url``; returns ``path``."""
    console_url = console_url.rstrip("/")
    roles = sorted({role for user in users for role in user.realm_roles} | {"clinician"})
    realm = {
        "realm": REALM,
        "enabled": True,
        "sslRequired": "none",
        "roles": {"realm": [{"name": role} for role in roles]},
        "users": [_user(user) for user in users],
        "clients": [
            {
                "clientId": CLIENT_ID,
                "name": "Quill Console",
                "enabled": True,
                "protocol": "openid-connect",
                "publicClient": False,
                "clientAuthenticatorType": "client-secret",
                "secret": client_secret,
                "standardFlowEnabled": True,
                "directAccessGrantsEnabled": False,
                "redirectUris": [f"{console_url}/auth/sso/callback"],
                "webOrigins": [console_url],
                "frontchannelLogout": False,
                "attributes": {
                    "pkce.code.challenge.method": "S256",
                    "post.logout.redirect.uris": f"{console_url}/*",
                    "backchannel.logout.url": f"{console_url}/auth/sso/backchannel-logout",
                    "backchannel.logout.session.required": "true",
                    "backchannel.logout.revoke.offline.tokens": "false",
                },
                "protocolMappers": [
                    {
                        "name": "realm roles in the ID token",
                        "protocol": "openid-connect",
                        "protocolMapper": "oidc-usermodel-realm-role-mapper",
                        "config": {
                            "claim.name": "realm_access.roles",
                            "multivalued": "true",
                            "jsonType.label": "String",
                            "id.token.claim": "true",
                            "access.token.claim": "true",
                            "userinfo.token.claim": "true",
                        },
                    }
                ],
            }
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(realm, indent=2))
    return path


def main() -> None:
    """``python -m stack.keycloak [console URL]``: fetch, write the realm, print the test user,
    and run Keycloak in the foreground (for working on the journeys by hand)."""
    import sys

    from stack.spec import port

    console_url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:5000"
    home = fetch()
    realm = write_realm(STATE_DIR / "keycloak" / "realm.json", console_url)
    server = spec(port("keycloak"), realm, home=home)
    print(f"issuer: {issuer(port('keycloak'))}")
    print(f"sso-username: {SSO_TEST_USER.username}")
    print(f"sso-password: {SSO_TEST_USER.password}", flush=True)
    os.chdir(home)
    os.execve(server.command[0], server.command, {**os.environ, **server.env})  # noqa: S606


if __name__ == "__main__":
    main()
