"""Figure 2: 16 concurrent users against gunicorn (gthread), and the load generator it uses.

The generator runs in its own processes (two, so it does not share one interpreter lock with
anything), each with threads that keep one HTTP/1.1 connection open like a browser does. Every
loop is bounded by a request count and a deadline, and only loopback addresses are used.
"""

from __future__ import annotations

import http.client
import multiprocessing
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from bench.context import Context
from bench.core import NotRun, Row, ms, percentile
from bench.env import build_app, endpoint_url, gunicorn, make_user, signed_in_session

SECTION = "2 under load"
USERS = 16


def _worker(
    base: str, paths: list[str], cookies: list[str], threads: int, deadline: float, budget: int
) -> dict[str, Any]:
    parts = urlsplit(base)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError("the load generator only targets loopback")
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    remaining = [budget]

    def user(index: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        headers = {"Cookie": cookies[index % len(cookies)], "Accept": "text/html"}
        n = 0
        while time.monotonic() < deadline:
            with lock:
                if remaining[0] <= 0:
                    break
                remaining[0] -= 1
            path = paths[n % len(paths)]
            n += 1
            start = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                status = 0
                with lock:
                    errors.append(type(exc).__name__)
                continue
            elapsed = (time.perf_counter() - start) * 1000
            with lock:
                latencies.append(elapsed)
                if status != 200:
                    errors.append(str(status))
        conn.close()

    pool = [threading.Thread(target=user, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return {"latencies": latencies, "errors": errors}


def hammer(
    base: str,
    paths: list[str],
    cookies: list[str],
    concurrency: int = USERS,
    seconds: float = 10,
    max_requests: int = 100_000,
    processes: int = 2,
) -> dict[str, Any]:
    """``concurrency`` keep-alive clients GET ``paths`` in turn; latencies, errors, rate."""
    per_process = max(1, concurrency // processes)
    deadline_offset = seconds
    context = multiprocessing.get_context("spawn")
    start = time.perf_counter()
    with context.Pool(processes) as pool:
        deadline = time.monotonic() + deadline_offset
        jobs = [
            pool.apply_async(
                _worker,
                (
                    base,
                    paths,
                    cookies[i * per_process : (i + 1) * per_process] or cookies,
                    per_process,
                    deadline,
                    max_requests // processes,
                ),
            )
            for i in range(processes)
        ]
        results = [job.get(timeout=seconds + 120) for job in jobs]
    elapsed = time.perf_counter() - start
    latencies = [x for r in results for x in r["latencies"]]
    errors = [x for r in results for x in r["errors"]]
    return {
        "count": len(latencies),
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
        "p50": percentile(latencies, 50),
        "p95": percentile(latencies, 95),
        "rate": len(latencies) / elapsed if elapsed else 0.0,
    }


def run(ctx: Context) -> list[Row]:
    """p95 and requests/s of the users list (DB only) and patient search (upstream)."""
    try:
        url = ctx.scale_database()["url"]
        where = f"PostgreSQL, {ctx.args.users:,} users"
    except NotRun:
        url = ctx.workspace.sqlite_url()
        where = "SQLite"
    config = ctx.workspace.config(url)
    upstream_note = ""
    try:
        hapi = ctx.hapi()
        config.update(hapi.config)
        hapi.server.set_faults(latency_ms=20)
        upstream_note = "HAPI emulator with 20 ms latency"
    except NotRun as exc:
        hapi = None
        upstream_note = str(exc)
    app = build_app(config)
    names = [f"bench.load{i}" for i in range(USERS)]
    for name in names:
        make_user(app, name, ("System administrator", "Clinician"))
    pages: dict[str, str] = {}
    for label, endpoint, query in (
        ("users list (DB only)", "admin.users", ""),
        ("patient search (upstream)", "patients.search", "?q=smith"),
    ):
        try:
            pages[label] = endpoint_url(app, endpoint) + query
        except NotRun as exc:
            pages[label] = f"not run: {exc}"
    rows: list[Row] = []
    try:
        with gunicorn(ctx.workspace, config, workers=2, threads=8) as (base, _master):
            cookies = []
            for name in names:
                session = signed_in_session(base, name)
                cookies.append("; ".join(f"{c.name}={c.value}" for c in session.cookies))
            for label, path in pages.items():
                if path.startswith("not run"):
                    rows.append(Row(SECTION, label, "not run", note=path[9:]))
                    continue
                hammer(base, [path], cookies, seconds=2)
                result = hammer(base, [path], cookies, seconds=ctx.args.load_seconds)
                rows.append(
                    Row(
                        SECTION,
                        f"{label}: {USERS} users, p95",
                        ms(result["p95"]),
                        target="errors = 0",
                        met=result["errors"] == 0,
                        note=(
                            f"{result['rate']:.0f} req/s; p50 {ms(result['p50'])}; "
                            f"{result['count']:,} requests; errors {result['errors']} "
                            f"{result['error_kinds'] or ''}; gunicorn 2 workers x 8 threads; {where}"
                            + (f"; {upstream_note}" if "patient" in label else "")
                        ),
                    )
                )
    finally:
        if hapi is not None:
            hapi.server.clear_faults()
    return rows
