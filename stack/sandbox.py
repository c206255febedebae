"""``make stack``: the platform of ``compose.dev.yml`` without Docker, with sandbox data.

The project's PostgreSQL cluster with its three databases, the real servers of ``SERVERS``,
Keycloak as the identity provider, and the console on PostgreSQL (``quill_auth`` as
``auth_user``) against them, signing in with Keycloak as well as with passwords; the synthetic
patients and letters are loaded (idempotently: a second start adds nothing) and the demo
administrator's credentials are printed as ``make run`` prints them, with the single sign-on
test user's (``sso-username:``/``sso-password:``, mapped to Clinician). Until the HAPI FHIR
launcher is one of ``SERVERS``, the patients live in the HAPI emulator, and this says so.
Ctrl-C stops everything it started.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from typing import Any

import click

from stack import keycloak, platform, postgres, runner
from stack.spec import port

SANDBOX_PATIENTS = 200


def _console_environment(values: dict[str, str], fhir_url: str) -> dict[str, str]:
    """The console's variables, as compose gives them, for the servers on loopback."""
    live = platform.live_environment()
    db_port = str(port("postgres"))
    return {
        "CONSOLE_ENV": "development",
        "AUTH_DB_NAME": values["AUTH_DB_NAME"],
        "AUTH_DB_USER": values["AUTH_DB_USER"],
        "AUTH_DB_PASSWORD": values["AUTH_DB_PASSWORD"],
        "AUTH_DB_HOST": "127.0.0.1",
        "AUTH_DB_PORT": db_port,
        "FHIR_DB_NAME": values["FHIR_DB_NAME"],
        "FHIR_DB_USER": values["FHIR_DB_USER"],
        "FHIR_DB_HOST": "127.0.0.1",
        "FHIR_DB_PORT": db_port,
        "EHRBASE_DB_NAME": values["EHRBASE_DB_NAME"],
        "EHRBASE_DB_USER": values["EHRBASE_DB_USER"],
        "EHRBASE_DB_HOST": "127.0.0.1",
        "EHRBASE_DB_PORT": db_port,
        "FHIR_SERVER_URL": fhir_url,
        "EHRBASE_URL": live["LIVE_EHRBASE_URL"],
        "EHRBASE_API_USER": values["EHRBASE_API_USER"],
        "EHRBASE_API_PASSWORD": values["EHRBASE_API_PASSWORD"],
        "EHRBASE_API_ADMIN_USER": values["EHRBASE_API_ADMIN_USER"],
        "EHRBASE_API_ADMIN_PASSWORD": values["EHRBASE_API_ADMIN_PASSWORD"],
    }


def serve(host: str, console_port: int, patients: int) -> int:
    """Start everything, seed it, serve the console until Ctrl-C; stop everything after."""
    values = platform.settings()
    console_url = f"http://{host}:{console_port}"
    print(f"postgres: {postgres.start()}", flush=True)
    emulator = None
    try:
        specs = [*platform.specs(), platform.keycloak_spec(values, console_url)]
        with runner.Servers(specs) as servers:
            print("Starting " + ", ".join(s.spec.name for s in servers.running) + " ...")
            print(f"(logs in {runner.LOG_DIR}; the first start takes minutes)", flush=True)
            for name, seconds in servers.wait_ready().items():
                print(f"{name}: ready after {seconds:.0f} s", flush=True)
            if "hapi" in platform.SERVERS:
                fhir_url = platform.live_environment()["LIVE_FHIR_URL"]
            else:
                from console.sandbox.hapi import start_hapi_emulator

                emulator, fhir_url = start_hapi_emulator(port=port("hapi"))
                print(f"HAPI FHIR: the emulator at {fhir_url} (no real HAPI launcher yet)")
            os.environ.update(_console_environment(values, fhir_url))
            os.environ.update(platform.sso_environment(values))
            _prepare_console_and_serve(host, console_port, patients, fhir_url, values)
    except KeyboardInterrupt:
        return 0
    except (RuntimeError, subprocess.CalledProcessError, click.ClickException) as exc:
        # ServerFailed, and the build and fetch failures of the Java servers and Keycloak.
        message = exc.format_message() if isinstance(exc, click.ClickException) else str(exc)
        print(f"stack: {message}", file=sys.stderr)
        return 1
    finally:
        if emulator is not None:
            emulator.stop()
        postgres.stop()
    return 0


def configure_sso(app: Any) -> list[str]:
    """Store the ``sso.*`` settings of the test realm (``keycloak.CONSOLE_SETTINGS``) that an
    administrator has not changed; returns the keys stored."""
    from console.appsettings import is_default, store_setting
    from console.db import db

    stored = []
    with app.app_context():
        for key, value in keycloak.CONSOLE_SETTINGS.items():
            if is_default(key):
                store_setting(key, value, None)
                stored.append(key)
        db.session.commit()
    return stored


def credentials(admin_output: str, sso_user: keycloak.TestUser, url: str) -> str:
    """What ``make stack`` prints once everything is up: the demo administrator's lines, the
    single sign-on test user's, and where the console is."""
    return (
        admin_output.rstrip("\n")
        + f"\nsso-username: {sso_user.username}\nsso-password: {sso_user.password}"
        + "\n  (the sign-in page's single sign-on button; Keycloak maps this user to Clinician)"
        + f"\nurl: {url}\n"
    )


def _prepare_console_and_serve(
    host: str, console_port: int, patients: int, fhir_url: str, values: dict[str, str]
) -> None:
    from flask_migrate import upgrade

    from console import create_app
    from console.admin.users.cli import ensure_demo_admin
    from console.sandbox.cli import seed_sandbox

    app = create_app()
    with app.app_context():
        upgrade()
        seed_sandbox(
            app.config["SETTINGS"],
            fhir_url=fhir_url,
            ehrbase_url=os.environ["EHRBASE_URL"],
            count=patients,
        )
    configure_sso(app)
    result = app.test_cli_runner().invoke(ensure_demo_admin)
    if result.exit_code != 0:
        raise click.ClickException(result.output)
    print()
    url = f"http://{host}:{console_port}/"
    print(credentials(result.output, platform.sso_test_user(values), url), flush=True)
    app.run(host=host, port=console_port, debug=False, use_reloader=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack serve", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--patients", type=int, default=SANDBOX_PATIENTS)
    args = parser.parse_args(argv)
    return serve(args.host, args.port, args.patients)
