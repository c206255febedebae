"""Figure 6: sign-in cost, memory per worker after many requests, and first-load page weight."""

from __future__ import annotations

import contextlib
import gzip
import re
import time

from bench.context import Context
from bench.core import NotRun, Row, kib, ms, percentile, ratio, timed
from bench.env import (
    PASSWORD,
    build_app,
    endpoint_url,
    gunicorn,
    make_user,
    rss_kib,
    signed_in_client,
    signed_in_session,
    worker_pids,
)
from bench.load import hammer

SECTION = "6 costs"
# React 19.3.1 + react-dom 19.3.1 (client) + scheduler production CommonJS builds from the npm
# registry, gzip -6, measured for this bench: 4,643 + 111,693 + 1,964 + 2,540 bytes.
REACT_FLOOR_GZIP = 120_840
REACT_FLOOR_SOURCE = (
    "floor: react + react-dom 19.3.1 production builds (npm), gzip -6 = 118.0 KiB; "
    "react-admin's e-commerce demo loads ~600 kB of JS (maintainer, marmelab/react-admin#6495)"
)
_ASSET = re.compile(r'<(?:link[^>]+href|script[^>]+src)="([^"]+)"')


def run(ctx: Context) -> list[Row]:
    """All three figures."""
    rows = sign_in_cost(ctx)
    rows += page_weight(ctx)
    rows += memory_per_worker(ctx)
    return rows


def sign_in_cost(ctx: Context) -> list[Row]:
    """argon2id hash and verify at the configured parameters, and a whole sign-in round trip."""
    from console.auth import passwords

    hasher = passwords._hasher
    params = (
        f"argon2id t={hasher.time_cost} m={hasher.memory_cost // 1024} MiB p={hasher.parallelism}"
    )
    stored = passwords.hash_password(PASSWORD)
    hash_ms = timed(lambda: passwords.hash_password(PASSWORD), 10, warmup=1)
    verify_ms = timed(lambda: passwords.verify_password(stored, PASSWORD), 10, warmup=1)

    app = build_app(ctx.workspace.config(ctx.workspace.sqlite_url()))
    make_user(app, "bench.signin", ("Clinician",))
    durations = timed(lambda: signed_in_client(app, "bench.signin"), 10, warmup=1)
    return [
        Row(SECTION, f"password hash ({params}) p50", ms(percentile(hash_ms, 50)),
            note=f"p95 {ms(percentile(hash_ms, 95))}"),
        Row(SECTION, "password verify p50", ms(percentile(verify_ms, 50)),
            target="OWASP: ≥ t=2, m=19 MiB", met=hasher.time_cost >= 2 and hasher.memory_cost >= 19456,
            note=f"p95 {ms(percentile(verify_ms, 95))}"),
        Row(SECTION, "whole sign-in (GET form + POST) p50", ms(percentile(durations, 50)),
            note=f"p95 {ms(percentile(durations, 95))}; in-process"),
    ]  # fmt: skip


def page_weight(ctx: Context) -> list[Row]:
    """Bytes of the first load of the users list (HTML and every asset it links), gzip -6."""
    app = build_app(ctx.workspace.config(ctx.workspace.sqlite_url()))
    make_user(app, "bench.weight", ("System administrator", "Clinician"))
    client = signed_in_client(app, "bench.weight")
    rows = []
    for endpoint in ("admin.users", "patients.search", "home.dashboard"):
        try:
            url = endpoint_url(app, endpoint)
        except NotRun:
            continue
        response = client.get(url)
        if response.status_code != 200:
            continue
        page = response.get_data()
        raw, compressed, files = len(page), len(gzip.compress(page, 6)), 1
        for asset in sorted(set(_ASSET.findall(page.decode()))):
            if not asset.startswith("/"):
                continue
            body = client.get(asset).get_data()
            raw += len(body)
            compressed += len(gzip.compress(body, 6))
            files += 1
        rows.append(
            Row(
                SECTION,
                f"first load of {endpoint} ({files} files, gzip -6)",
                kib(compressed),
                f"React floor {kib(REACT_FLOOR_GZIP)}",
                ratio(compressed, REACT_FLOOR_GZIP),
                "< a React admin SPA",
                compressed < REACT_FLOOR_GZIP,
                f"uncompressed {kib(raw)}; {REACT_FLOOR_SOURCE}",
            )
        )
        if len(rows) == 2:
            break
    return rows


def memory_per_worker(ctx: Context) -> list[Row]:
    """RSS of one gunicorn worker at start and after N requests (users list and dashboard)."""
    try:
        scale = ctx.scale_database()
        url = scale["url"]
    except NotRun:
        url = ctx.workspace.sqlite_url()
    config = ctx.workspace.config(url)
    with contextlib.suppress(NotRun):
        config.update(ctx.hapi().config)
    app = build_app(config)
    make_user(app, "bench.memory", ("System administrator", "Clinician"))
    paths: list[str] = []
    for endpoint in ("admin.users", "patients.search", "home.dashboard"):
        try:
            paths.append(endpoint_url(app, endpoint))
        except NotRun:
            continue
    paths = [p + ("?q=smith" if "patients" in p else "") for p in paths]
    total = ctx.args.memory_requests
    with gunicorn(ctx.workspace, config, workers=1, threads=8) as (base, master):
        session = signed_in_session(base, "bench.memory")
        cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
        for path in paths:
            session.get(base + path, timeout=30)
        time.sleep(0.5)
        pids = worker_pids(master)
        if not pids:
            raise NotRun("could not find the gunicorn worker")
        before = rss_kib(pids[0])
        result = hammer(base, paths, [cookie], concurrency=8, seconds=600, max_requests=total)
        after = rss_kib(pids[0])
    growth = after - before
    return [
        Row(
            SECTION,
            f"memory of one worker after {result['count']:,} requests (RSS)",
            f"{after / 1024:.0f} MiB",
            f"at start {before / 1024:.0f} MiB",
            ratio(after, before),
            "growth < 10 MiB",
            growth < 10 * 1024 and result["errors"] == 0,
            f"growth {growth / 1024:.1f} MiB; errors {result['errors']}; pages {', '.join(paths)}",
        )
    ]
