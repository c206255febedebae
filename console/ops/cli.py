"""``flask --app console check``: configuration, deprecated variables and every dependency."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from console.ops import probes
from console.ops import services as service


def _latency(check: probes.Check) -> str:
    return f"{check.latency_ms:.0f} ms" if check.latency_ms is not None else "-"


@click.command("check")
@with_appcontext
def check_command() -> None:
    """Print the effective configuration (secrets masked), deprecated variables and whether
    the three databases and two services answer. Exits with status 1 when something required
    is missing or failing."""
    settings = current_app.config["SETTINGS"]
    version = current_app.config.get("CONSOLE_VERSION", "unknown")
    click.echo(f"Quill Console {version} ({settings.CONSOLE_ENV})")

    click.echo("\nConfiguration (secrets masked):")
    shown = settings.redacted()
    credentials = service.health_credentials(current_app)
    for prefix, pair in (("FHIR", credentials.fhir), ("EHRBASE", credentials.ehrbase)):
        if pair:
            shown[f"{prefix}_DB_HEALTH_USER"] = pair[0]
            shown[f"{prefix}_DB_HEALTH_PASSWORD"] = "********"
    width = max(len(key) for key in shown)
    for key, value in shown.items():
        click.echo(f"  {key.ljust(width)}  {value}")

    click.echo("\nDeprecated variables:")
    if settings.deprecations:
        for item in settings.deprecations:
            click.echo(f"  {item.message}")
    else:
        click.echo("  none")

    click.echo("\nDatabases and services:")
    # A one-off command has no history of the services: one that does not answer is down.
    report = service.full_report(grace_seconds=0)
    for check in report.checks:
        click.echo(
            f"  {check.name.ljust(17)} {check.state.ljust(15)} {_latency(check).rjust(8)}  "
            f"{check.version or ''}".rstrip()
        )
        click.echo(f"      {check.detail}")

    failing = [check.name for check in report.checks if not check.ok]
    if failing:
        click.echo(f"\nFAILED: {', '.join(failing)}.")
        if any(
            check.key in ("fhir", "ehrbase") and check.state in (probes.DOWN, probes.STARTING)
            for check in report.checks
            if not check.ok
        ):
            click.echo(
                "HAPI FHIR and EHRbase take one to two minutes to start; if the stack has just "
                "started, run the check again shortly."
            )
        raise SystemExit(1)
    click.echo("\nOK: everything required answers.")
