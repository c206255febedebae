"""Figure 5: how long a user waits for the "service unavailable" page when HAPI FHIR fails."""

from __future__ import annotations

import time
from typing import Any

from bench.calls import set_setting
from bench.context import Context
from bench.core import NotRun, Row, ms, percentile, timed
from bench.env import build_app, endpoint_url, make_user, signed_in_client
from bench.overhead import first_patient

SECTION = "5 degraded upstream"
HANG_READ_TIMEOUT_S = 2.0
OUTAGE_WORDS = ("unavailable", "not available", "could not", "try again", "retry", "not responding")


def _degraded(client: Any, path: str) -> float:
    start = time.perf_counter()
    response = client.get(path)
    elapsed = (time.perf_counter() - start) * 1000
    text = response.get_data(as_text=True).lower()
    if response.status_code >= 500 and response.status_code not in (502, 503, 504):
        raise NotRun(f"the outage gave a {response.status_code}")
    if not any(word in text for word in OUTAGE_WORDS):
        raise NotRun("the page did not say the service is unavailable")
    return elapsed


def run(ctx: Context) -> list[Row]:
    """Refused connections and a hanging server: first request, then with the breaker open."""
    hapi = ctx.hapi()
    _, family = first_patient(ctx)
    rows: list[Row] = []
    for fault in ("refusing connections", "hanging"):
        app = build_app(ctx.workspace.config(ctx.workspace.sqlite_url(), **hapi.config))
        if fault == "hanging":
            # A hanging server costs the read timeout per attempt; 2 s keeps the bench short.
            set_setting(app, "clinical.fhir_read_timeout_seconds", HANG_READ_TIMEOUT_S)
        make_user(app, "bench.degraded", ("Clinician",))
        client = signed_in_client(app, "bench.degraded")
        path = endpoint_url(app, "patients.search") + f"?q={family}"
        if client.get(path).status_code != 200:
            raise NotRun("the patient search does not answer normally")
        if fault == "hanging":
            hapi.server.set_faults(hang=True)
        else:
            hapi.server.refuse_connections()
        try:
            first = _degraded(client, path)
            attempts = [first]
            while len(attempts) < 12 and attempts[-1] > 100:
                attempts.append(_degraded(client, path))
            open_breaker = timed(
                lambda c=client, p=path: _degraded(c, p), ctx.args.samples, warmup=0
            )
        finally:
            hapi.server.accept_connections()
            hapi.server.clear_faults()
        rows.append(
            Row(
                SECTION,
                f"HAPI {fault}: first request to the degraded page",
                ms(first),
                note=(
                    f"requests until the breaker opened: {', '.join(ms(a) for a in attempts)}; "
                    + (
                        f"read timeout set to {HANG_READ_TIMEOUT_S:g} s for the bench"
                        if fault == "hanging"
                        else "timeouts and retries as configured"
                    )
                ),
            )
        )
        p95 = percentile(open_breaker, 95)
        rows.append(
            Row(
                SECTION,
                f"HAPI {fault}: degraded page with the breaker open, p95",
                ms(p95),
                target="≤ 50 ms (a dead server costs milliseconds)",
                met=p95 <= 50,
                note=f"p50 {ms(percentile(open_breaker, 50))}",
            )
        )
    return rows
