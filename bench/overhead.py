"""Figure 1: what the console adds on top of the upstream requests it makes.

The console runs under gunicorn; the raw request is the very request the console sent
(recorded at the emulator with the headers that change the server's work), replayed with a
pooled ``requests`` session. First against the HAPI emulator at a fixed 20 ms latency, then,
when they run, against the real HAPI FHIR and EHRbase (``bench.real``): there the raw side is
every request the page sent (recorded as sent), replayed one after another.
"""

from __future__ import annotations

import contextlib
import html
import re

import requests

from bench import real
from bench.context import Context
from bench.core import NotRun, Row, ms, percentile, timed_pairs
from bench.env import (
    build_app,
    endpoint_url,
    gunicorn,
    make_user,
    patient_page_path,
    signed_in_client,
    signed_in_session,
)

SECTION = "1 console overhead"
LATENCY_MS = 20
TARGET = "≤ 1.2 and ≤ 5 ms added"
_LETTER_LINK = re.compile(r'href="(/patients/[^"/]+/letters/[^"]+)"')


def overhead_rows(label: str, ours: list[float], theirs: list[float], note: str) -> list[Row]:
    """p50 and p95 of the console's page ÷ the same raw upstream request(s)."""
    rows = []
    for p in (50, 95):
        o, t = percentile(ours, p), percentile(theirs, p)
        rows.append(
            Row(
                SECTION,
                f"{label} p{p}",
                ms(o),
                f"raw upstream {ms(t)}",
                f"{o / t:.2f}",
                TARGET,
                o / t <= 1.2 and o - t <= 5,
                f"added {o - t:.1f} ms; {note}",
            )
        )
    return rows


def first_patient(ctx: Context) -> tuple[str, str]:
    """(id, family name) of a synthetic patient in the emulator."""
    patients = ctx.hapi().data["patients"]
    if not patients:
        raise NotRun("no synthetic patients loaded")
    patient = patients[0]
    resource = patient if isinstance(patient, dict) else getattr(patient, "resource", patient)
    if not isinstance(resource, dict):
        resource = resource.model_dump() if hasattr(resource, "model_dump") else dict(resource)
    return resource["id"], resource["name"][0]["family"]


def run(ctx: Context) -> list[Row]:
    """Console p50/p95 ÷ raw upstream p50/p95 for the patient search and the patient page."""
    hapi = ctx.hapi()
    try:
        url, database = ctx.workspace.postgres_url(), "PostgreSQL"
    except NotRun:
        url, database = ctx.workspace.sqlite_url(), "SQLite"
    config = ctx.workspace.config(url, **hapi.config)
    app = build_app(config)
    make_user(app, "bench.overhead", ("Clinician",))
    patient_id, family = first_patient(ctx)
    pages = {"patient search": endpoint_url(app, "patients.search") + f"?q={family}"}
    with contextlib.suppress(NotRun):
        pages["patient page"] = patient_page_path(app, patient_id)
    samples = ctx.args.samples * 2
    rows: list[Row] = []
    hapi.server.set_faults(latency_ms=LATENCY_MS)
    try:
        with gunicorn(ctx.workspace, config, workers=1, threads=4) as (base, _master):
            console = signed_in_session(base, "bench.overhead")
            raw = requests.Session()
            for label, path in pages.items():
                hapi.recorder.clear()
                response = console.get(base + path, timeout=30)
                if response.status_code != 200:
                    raise NotRun(f"{label} answered {response.status_code}")
                fhir_calls = [
                    (seen, headers)
                    for seen, headers in zip(hapi.recorder.seen, hapi.recorder.headers, strict=True)
                    if not seen[1].startswith("/_emulator")
                ]
                if not fhir_calls:
                    raise NotRun(f"{label} made no upstream request")
                (method, upstream_path, query), sent_headers = fhir_calls[0]
                upstream_url = hapi.server.url + upstream_path + (f"?{query}" if query else "")
                # The very request the console sent: same URL and the headers that change the
                # server's work (the search's Cache-Control: no-cache bypasses HAPI's cache).
                # Console and raw requests alternate, so a busier moment weighs on both.
                ours, theirs = timed_pairs(
                    lambda p=path: console.get(base + p, timeout=30),
                    lambda m=method, u=upstream_url, h=sent_headers: raw.request(
                        m, u, headers=h, timeout=30
                    ),
                    samples,
                )
                rows += overhead_rows(
                    f"{label} (upstream {LATENCY_MS} ms latency)",
                    ours,
                    theirs,
                    f"{len(fhir_calls)} upstream call(s); {samples} requests each, alternating; "
                    f"gunicorn gthread; auth DB {database}; EHRbase not configured",
                )
    finally:
        hapi.server.clear_faults()
    return rows + real_server_rows(ctx)


def real_server_rows(ctx: Context) -> list[Row]:
    """The same comparison against the real HAPI FHIR and EHRbase, or why it was not run."""
    try:
        return _real_server_rows(ctx)
    except NotRun as exc:
        return [Row(SECTION, "against the real HAPI FHIR and EHRbase", "not run", note=str(exc))]


def _real_server_rows(ctx: Context) -> list[Row]:
    servers = real.real_servers()
    ids, letters = real.load_bench_data(servers)
    if not letters:
        raise NotRun("none of the bench's patients was given letters")
    try:
        url, database = ctx.workspace.postgres_url(), "PostgreSQL"
    except NotRun:
        url, database = ctx.workspace.sqlite_url(), "SQLite"
    config = ctx.workspace.config(url, **servers.console_config())
    app = build_app(config)
    with app.app_context():
        from console.appsettings import store_setting
        from console.db import db

        store_setting("clinical.ehr_subject_namespace", real.BENCH_NAMESPACE, None)
        db.session.commit()
    make_user(app, "bench.real", ("Clinician",))
    with_letters = max(letters, key=lambda pid: letters[pid])
    local = signed_in_client(app, "bench.real")
    patient_page = patient_page_path(app, with_letters)
    found = _LETTER_LINK.search(local.get(patient_page).get_data(as_text=True))
    if not found:
        raise NotRun("the patient page listed none of the bench patient's letters")
    pages = {
        "patient search (real HAPI FHIR)": endpoint_url(app, "patients.search")
        + f"?q={real.BENCH_FAMILY}",
        f"patient page, {letters[with_letters]} letters (real HAPI FHIR + EHRbase)": patient_page,
        "letter page (real HAPI FHIR + EHRbase)": html.unescape(found.group(1)),
    }
    samples = ctx.args.samples * 2
    rows: list[Row] = []
    with gunicorn(ctx.workspace, config, workers=1, threads=4) as (base, _master):
        console = signed_in_session(base, "bench.real")
        raw = requests.Session()
        for label, path in pages.items():
            # The page's upstream requests as the console sends them once its caches are warm.
            local.get(path)
            with real.recorded_requests((servers.fhir_url, servers.ehrbase_url)) as sent:
                response = local.get(path)
            if response.status_code != 200:
                raise NotRun(f"{label} answered {response.status_code}")
            if not sent:
                raise NotRun(f"{label} made no upstream request")
            ours, theirs = timed_pairs(
                lambda p=path: console.get(base + p, timeout=60),
                real.replay(raw, list(sent)),
                samples,
            )
            calls = ", ".join(f"{r.method} {_service(r.url, servers)}" for r in sent)
            rows += overhead_rows(
                label,
                ours,
                theirs,
                f"upstream requests replayed one after another: {calls}; {samples} requests "
                f"each, alternating; gunicorn gthread; auth DB {database}; {len(ids)} bench "
                "patients",
            )
    return rows


def _service(url: str | None, servers: real.RealServers) -> str:
    return "FHIR" if str(url).startswith(servers.fhir_url) else "EHRbase"
