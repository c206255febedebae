"""``flask sandbox seed``: synthetic patients and letters for HAPI FHIR and EHRbase.

The same command fills the no-Docker emulators of the quick start and a real HAPI FHIR and
EHRbase (``docker compose -f compose.dev.yml up``). Both loads are idempotent: patients are
created only when no patient with their NHS number exists, and a patient whose EHR already
holds letters gets no more.
"""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from console.config import Settings
from console.fhir import CircuitBreaker, FhirClient, FhirError
from console.openehr.client import EhrbaseClient
from console.openehr.errors import EhrbaseError
from console.sandbox.letters import SandboxPatient, load_letters
from console.sandbox.patients import generate_patients, load_patients
from console.upstream.builders import build_ehrbase_client, build_fhir_client
from console.upstream.transport import Limits

sandbox_cli = AppGroup("sandbox", help="Synthetic demo data for a development or test stack.")

SEED_BATCH = 100


#: Bulk loads wait long for each answer, but not for ever.
FHIR_LOAD_LIMITS = Limits(read_timeout=120.0, deadline=600.0)
EHRBASE_LOAD_LIMITS = Limits(read_timeout=60.0, deadline=300.0)


def _fhir_client(settings: Settings, url: str) -> FhirClient:
    return build_fhir_client(
        settings, FHIR_LOAD_LIMITS, url=url, breaker=CircuitBreaker(failure_threshold=1000)
    )


def _ehrbase_client(settings: Settings, url: str, workers: int) -> EhrbaseClient:
    missing = [
        name
        for name in ("EHRBASE_API_USER", "EHRBASE_API_ADMIN_USER")
        if not getattr(settings, name)
    ]
    if missing:
        raise click.ClickException(
            f"{' and '.join(missing)} must be set to write letters "
            "(the admin account uploads the letter template)."
        )
    return build_ehrbase_client(
        settings,
        EHRBASE_LOAD_LIMITS,
        url=url,
        breaker=CircuitBreaker(failure_threshold=1000),
        pool_size=max(4, workers),
    )


def _load_failed(what: str, url: str, message: str, diagnostics: str) -> click.ClickException:
    detail = f" ({diagnostics})" if diagnostics else ""
    return click.ClickException(f"loading {what} into {url} failed: {message}{detail}")


def _seed_patients(settings: Settings, url: str, count: int, seed: int) -> list[SandboxPatient]:
    patients = generate_patients(count, seed=seed)
    client = _fhir_client(settings, url)
    ids: list[str] = []
    try:
        with click.progressbar(length=len(patients), label="patients", file=None) as bar:
            for start in range(0, len(patients), SEED_BATCH):
                chunk = patients[start : start + SEED_BATCH]
                ids.extend(load_patients(client, chunk, batch_size=SEED_BATCH))
                bar.update(len(chunk))
    except FhirError as exc:
        raise _load_failed("patients", url, exc.message, exc.diagnostics) from None
    finally:
        client.close()
    return [SandboxPatient.from_fhir(p, pid) for p, pid in zip(patients, ids, strict=True)]


def _seed_letters(
    settings: Settings,
    url: str,
    people: list[SandboxPatient],
    seed: int,
    namespace: str,
    workers: int,
) -> None:
    client = _ehrbase_client(settings, url, workers)
    try:
        with click.progressbar(length=len(people), label="letters ", file=None) as bar:
            report = load_letters(
                client,
                people,
                namespace=namespace,
                seed=seed,
                workers=workers,
                progress=lambda _done: bar.update(1),
            )
    except EhrbaseError as exc:
        raise _load_failed("letters", url, exc.message, exc.diagnostics) from None
    finally:
        client.close()
    click.echo(
        f"letters: {report.letters_created} written for {report.patients} patients "
        f"({report.ehrs_created} EHRs created, {report.patients_skipped} already loaded"
        + (", letter template uploaded" if report.template_uploaded else "")
        + ")"
    )
    if report.failures:
        for failure in report.failures[:10]:
            click.echo(f"failed: {failure}", err=True)
        raise click.ClickException(f"{len(report.failures)} patients' letters were not loaded.")


@sandbox_cli.command("seed")
@click.option(
    "--patients",
    "count",
    type=click.IntRange(0, 100_000),
    default=1000,
    show_default=True,
    help="How many synthetic patients to generate.",
)
@click.option("--seed", type=int, default=42, show_default=True, help="Seed of the generators.")
@click.option("--fhir-url", help="HAPI FHIR base URL (default: FHIR_SERVER_URL).")
@click.option("--ehrbase-url", help="EHRbase base URL (default: EHRBASE_URL).")
@click.option("--no-letters", is_flag=True, help="Load patients only.")
@click.option(
    "--workers",
    type=click.IntRange(1, 32),
    default=4,
    show_default=True,
    help="Parallel requests while writing letters.",
)
def seed_command(
    count: int,
    seed: int,
    fhir_url: str | None,
    ehrbase_url: str | None,
    no_letters: bool,
    workers: int,
) -> None:
    """Load N deterministic synthetic patients, then 0-20 letters each; safe to run again."""
    settings: Settings = current_app.config["SETTINGS"]
    if settings.is_production:
        raise click.UsageError("Synthetic demo data is refused in production.")
    fhir_url = fhir_url or settings.FHIR_SERVER_URL
    ehrbase_url = ehrbase_url or settings.EHRBASE_URL
    if not fhir_url:
        raise click.UsageError("Give --fhir-url or set FHIR_SERVER_URL: where HAPI FHIR is.")
    if not no_letters and not ehrbase_url:
        raise click.UsageError(
            "Give --ehrbase-url or set EHRBASE_URL (or pass --no-letters): where EHRbase is."
        )
    for name, url in (("--fhir-url", fhir_url), ("--ehrbase-url", ehrbase_url)):
        if url and not url.startswith(("http://", "https://")):
            raise click.UsageError(f"{name} must be an http:// or https:// URL, not {url!r}.")
    seed_sandbox(
        settings,
        fhir_url=fhir_url,
        ehrbase_url=None if no_letters else ehrbase_url,
        count=count,
        seed=seed,
        workers=workers,
    )


def seed_sandbox(
    settings: Settings,
    *,
    fhir_url: str,
    ehrbase_url: str | None,
    count: int,
    seed: int = 42,
    workers: int = 4,
) -> list[str]:
    """Load the synthetic patients (and their letters unless ``ehrbase_url`` is None).

    Needs an application context (the EHR subject namespace is a setting). Returns the FHIR
    ids of the patients; raises ``click.ClickException`` with a readable reason on failure.
    """
    from console.appsettings import get_setting

    people = _seed_patients(settings, fhir_url, count, seed)
    click.echo(f"patients: {len(people)} on {fhir_url} (any already there were kept)")
    if ehrbase_url and people:
        namespace = str(get_setting("clinical.ehr_subject_namespace"))
        _seed_letters(settings, ehrbase_url, people, seed, namespace, workers)
    return [person.id for person in people]
