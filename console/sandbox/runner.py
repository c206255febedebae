"""The no-Docker sandbox: emulated HAPI FHIR and EHRbase with synthetic data, and the console.

``python -m console.sandbox.runner`` is what ``make run`` starts. It starts both emulators on
loopback, points the console at them, migrates the embedded SQLite auth database, loads the
synthetic patients and their letters (``flask sandbox seed``), creates the demo administrator,
prints its credentials and the URL, and serves until interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys

import click

from console.sandbox.ehrbase import DEFAULT_ADMIN, DEFAULT_USER, start_ehrbase_emulator
from console.sandbox.hapi import start_hapi_emulator

SANDBOX_PATIENTS = 1000


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Serve Quill Console on emulated upstreams.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument(
        "--patients",
        type=int,
        default=SANDBOX_PATIENTS,
        help=f"synthetic patients to load (default {SANDBOX_PATIENTS})",
    )
    parser.add_argument("--fhir-port", type=int, default=0, help="HAPI emulator port (0: any)")
    parser.add_argument("--ehrbase-port", type=int, default=0, help="EHRbase emulator port")
    args = parser.parse_args(argv)
    if args.patients < 0:
        parser.error("--patients must not be negative")
    return args


def main(argv: list[str] | None = None) -> None:
    """Start the emulators, prepare the console and serve it until interrupted."""
    args = _arguments(argv)
    hapi, fhir_url = start_hapi_emulator(port=args.fhir_port)
    ehrbase, ehrbase_url = start_ehrbase_emulator(port=args.ehrbase_port)
    os.environ.setdefault("CONSOLE_ENV", "development")
    os.environ.update(
        {
            "FHIR_SERVER_URL": fhir_url,
            "EHRBASE_URL": ehrbase_url,
            "EHRBASE_API_USER": DEFAULT_USER[0],
            "EHRBASE_API_PASSWORD": DEFAULT_USER[1],
            "EHRBASE_API_ADMIN_USER": DEFAULT_ADMIN[0],
            "EHRBASE_API_ADMIN_PASSWORD": DEFAULT_ADMIN[1],
        }
    )
    from flask_migrate import upgrade

    from console import create_app
    from console.admin.users.cli import ensure_demo_admin
    from console.sandbox.cli import seed_sandbox

    app = create_app()
    print("\nQuill Console sandbox")
    print(f"HAPI FHIR emulator: {fhir_url}")
    print(f"EHRbase emulator:   {ehrbase_url}")
    with app.app_context():
        upgrade()
        try:
            seed_sandbox(
                app.config["SETTINGS"],
                fhir_url=fhir_url,
                ehrbase_url=ehrbase_url,
                count=args.patients,
            )
        except click.ClickException as exc:
            sys.exit(f"The sandbox data could not be loaded: {exc.format_message()}")
    result = app.test_cli_runner().invoke(ensure_demo_admin)
    if result.exit_code != 0:
        sys.exit(result.output)
    print()
    print(result.output, end="")
    print(f"url: http://{args.host}:{args.port}/\n", flush=True)
    try:
        app.run(host=args.host, port=args.port, debug=False, use_reloader=False)
    finally:
        hapi.stop()
        ehrbase.stop()


if __name__ == "__main__":
    main()
