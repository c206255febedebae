"""Figure 1: what the console adds on top of the upstream request it makes (20 ms emulator).

The console runs under gunicorn; the raw request is the very request the console sent
(recorded at the emulator with the headers that change the server's work), replayed with a
pooled ``requests`` session.
"""

from __future__ import annotations

import contextlib

import requests

from bench.context import Context
from bench.core import NotRun, Row, ms, percentile, timed_pairs
from bench.env import (
    build_app,
    endpoint_url,
    gunicorn,
    make_user,
    patient_page_path,
    signed_in_session,
)

SECTION = "1 console overhead"
LATENCY_MS = 20


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
                for p in (50, 95):
                    o, t = percentile(ours, p), percentile(theirs, p)
                    rows.append(
                        Row(
                            SECTION,
                            f"{label} p{p} (upstream {LATENCY_MS} ms latency)",
                            ms(o),
                            f"raw upstream {ms(t)}",
                            f"{o / t:.2f}",
                            "≤ 1.2 and ≤ 5 ms added",
                            o / t <= 1.2 and o - t <= 5,
                            f"added {o - t:.1f} ms; {len(fhir_calls)} upstream call(s); "
                            f"{samples} requests each, alternating; "
                            f"gunicorn gthread; auth DB {database}; EHRbase not configured",
                        )
                    )
    finally:
        hapi.server.clear_faults()
    return rows
