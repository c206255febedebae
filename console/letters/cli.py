"""``flask ehrbase ...``: put the console's openEHR templates on EHRbase (idempotent)."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from console.fhir.breaker import CircuitBreaker
from console.openehr import letter_template as lt
from console.openehr.client import EhrbaseClient
from console.openehr.errors import EhrbaseError
from console.upstream.builders import build_ehrbase_client

ehrbase_cli = AppGroup("ehrbase", help="Work with the EHRbase (openEHR) server.")


def _admin_client() -> EhrbaseClient:
    settings = current_app.config["SETTINGS"]
    if not settings.EHRBASE_URL:
        raise click.ClickException(
            "EHRBASE_URL is not set: the console does not know where EHRbase is."
        )
    if not settings.EHRBASE_API_ADMIN_USER or not settings.EHRBASE_API_ADMIN_PASSWORD:
        raise click.ClickException(
            "EHRBASE_API_ADMIN_USER and EHRBASE_API_ADMIN_PASSWORD must be set: "
            "uploading templates needs the EHRbase administrator."
        )
    return build_ehrbase_client(settings, breaker=CircuitBreaker(failure_threshold=1000))


@ehrbase_cli.command("upload-templates")
def upload_templates() -> None:
    """Upload the shipped templates; one already on the server counts as done."""
    client = _admin_client()
    failed = False
    try:
        for name, opt in lt.shipped_templates().items():
            try:
                result = client.ensure_template(opt)
            except EhrbaseError as exc:
                failed = True
                click.echo(f"failed: {name}: {exc.message}", err=True)
                if exc.diagnostics:
                    click.echo(f"  {exc.diagnostics}", err=True)
                continue
            state = "uploaded" if result.created else "already on the server"
            click.echo(f"{state}: {result.template_id} ({name})")
    finally:
        client.close()
    if failed:
        sys.exit(1)


@ehrbase_cli.command("load-letters")
@click.argument("patient_ids", nargs=-1)
@click.option(
    "--from-file", type=click.File("r"), help="Read FHIR Patient ids, one a line ('-' for stdin)."
)
@click.option("--seed", default=0, show_default=True, help="Seed of the letter generator.")
@click.option("--namespace", default=None, help="EHR subject namespace (default: the setting).")
def load_letters_command(
    patient_ids: tuple[str, ...],
    from_file: click.utils.LazyFile | None,
    seed: int,
    namespace: str | None,
) -> None:
    """Write synthetic letters for these FHIR patients into EHRbase (safe to run again)."""
    from console.appsettings import get_setting
    from console.sandbox.letters import load_letters

    ids = list(patient_ids)
    if from_file is not None:
        ids.extend(line.strip() for line in from_file if line.strip())
    if not ids:
        raise click.UsageError("Give FHIR Patient ids as arguments or with --from-file.")
    namespace = namespace or str(get_setting("clinical.ehr_subject_namespace"))
    client = _admin_client()
    try:
        report = load_letters(client, ids, namespace=namespace, seed=seed)
    except EhrbaseError as exc:
        click.echo(f"failed: {exc.message}", err=True)
        if exc.diagnostics:
            click.echo(f"  {exc.diagnostics}", err=True)
        sys.exit(1)
    finally:
        client.close()
    click.echo(
        f"patients: {report.patients}, EHRs created: {report.ehrs_created}, "
        f"letters written: {report.letters_created}, already loaded: {report.patients_skipped}"
        + (", letter template uploaded" if report.template_uploaded else "")
    )
    for failure in report.failures:
        click.echo(f"failed: {failure}", err=True)
    if report.failures:
        sys.exit(1)
