"""Figure 3: upstream calls (counted at the emulators) and DB queries per page, as pages grow."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from bench.context import SHARED_FAMILY, Context, Upstream
from bench.core import NotRun, Row
from bench.env import build_app, endpoint_url, make_user, patient_page_path, signed_in_client
from bench.overhead import first_patient

SECTION = "3 calls per page"


@contextmanager
def counting_queries(app: Any) -> Iterator[list[str]]:
    """Collect every SQL statement the app's auth engine runs inside the block."""
    from console.db import db

    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def listener(*args: Any) -> None:
        seen.append(str(args[2])[:80])

    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def _upstream_count(upstreams: list[Upstream]) -> dict[str, int]:
    return {
        name: len([s for s in u.recorder.seen if not s[1].startswith("/_emulator")])
        for name, u in zip(("FHIR", "openEHR"), upstreams, strict=False)
    }


def _measure(client: Any, app: Any, path: str, upstreams: list[Upstream]) -> tuple[dict, int]:
    """Counts of the second of two identical requests (the first may do once-a-while work,
    such as refreshing the session's last-seen time)."""
    _measure_once(client, app, path, upstreams)
    return _measure_once(client, app, path, upstreams)


def _measure_once(client: Any, app: Any, path: str, upstreams: list[Upstream]) -> tuple[dict, int]:
    for upstream in upstreams:
        upstream.recorder.clear()
    with counting_queries(app) as queries:
        response = client.get(path)
    if response.status_code != 200:
        raise NotRun(f"GET {path} answered {response.status_code}")
    return _upstream_count(upstreams), len(queries)


def set_setting(app: Any, key: str, value: Any) -> None:
    """Store a typed application setting, as the settings page would."""
    import json

    from console.db import db
    from console.db.models import AppSetting

    with app.app_context():
        row = db.session.get(AppSetting, key)
        if row is None:
            row = AppSetting(key=key, value=json.dumps(value), type=type(value).__name__)
            db.session.add(row)
        else:
            row.value = json.dumps(value)
        db.session.commit()


def run(ctx: Context) -> list[Row]:
    """Counts for each page at several page sizes; the target is a constant count."""
    rows: list[Row] = _admin_pages(ctx)
    try:
        rows += _clinical_pages(ctx)
    except NotRun as exc:
        rows.append(Row(SECTION, "patient search and patient page", "not run", note=str(exc)))
    return rows


def _admin_pages(ctx: Context) -> list[Row]:
    try:
        url = ctx.scale_database()["url"]
    except NotRun as exc:
        return [Row(SECTION, "admin pages", "not run", note=str(exc))]
    upstreams: list[Upstream] = []
    config = ctx.workspace.config(url)
    try:
        upstreams.append(ctx.hapi())
        config.update(ctx.hapi().config)
    except NotRun:
        pass
    app = build_app(config)
    make_user(app, "bench.calls.admin", ("System administrator",))
    client = signed_in_client(app, "bench.calls.admin")
    rows = []
    for endpoint, sizes in (("admin.users", (25, 50, 100, 200)), ("admin.audit", (25, 50, 100))):
        try:
            base = endpoint_url(app, endpoint)
        except NotRun as exc:
            rows.append(Row(SECTION, endpoint, "not run", note=str(exc)))
            continue
        counts = []
        for size in sizes:
            calls, queries = _measure(client, app, f"{base}?per_page={size}", upstreams)
            counts.append((size, sum(calls.values()), queries))
        upstream_total = {c[1] for c in counts}
        query_counts = [c[2] for c in counts]
        rows.append(
            Row(
                SECTION,
                f"{endpoint}: upstream calls / DB queries at {', '.join(str(s) for s in sizes)} rows",
                f"{max(upstream_total)} / {', '.join(map(str, query_counts))}",
                "0 upstream; queries constant",
                target="0 upstream, constant queries",
                met=upstream_total == {0} and len(set(query_counts)) == 1,
            )
        )
    return rows


def _clinical_pages(ctx: Context) -> list[Row]:
    hapi = ctx.hapi()
    upstreams = [hapi]
    config = ctx.workspace.config(ctx.workspace.sqlite_url(), **hapi.config)
    try:
        ehrbase = ctx.ehrbase()
        upstreams.append(ehrbase)
        config.update(ehrbase.config)
    except NotRun:
        pass
    app = build_app(config)
    make_user(app, "bench.calls.clinician", ("Clinician",))
    client = signed_in_client(app, "bench.calls.clinician")
    patient_id, _ = first_patient(ctx)
    search = endpoint_url(app, "patients.search")
    rows = []
    measured = []
    for size in (5, 20, 50):
        set_setting(app, "clinical.fhir_page_size", size)
        calls, queries = _measure(client, app, f"{search}?q={SHARED_FAMILY}", upstreams)
        measured.append((size, calls, queries))
    fhir = [m[1].get("FHIR", 0) for m in measured]
    queries = [m[2] for m in measured]
    rows.append(
        Row(
            SECTION,
            "patient search: FHIR requests / DB queries at 5, 20, 50 rows",
            f"{', '.join(map(str, fhir))} / {', '.join(map(str, queries))}",
            "1 FHIR request",
            target="= 1 FHIR, constant queries",
            met=set(fhir) == {1} and len(set(queries)) == 1,
        )
    )
    try:
        page = patient_page_path(app, patient_id)
    except NotRun as exc:
        return [*rows, Row(SECTION, "patient page", "not run", note=str(exc))]
    measured = []
    for size in (5, 20, 50):
        set_setting(app, "clinical.letters_page_size", size)
        calls, queries = _measure(client, app, page, upstreams)
        measured.append((calls, queries))
    fhir = [m[0].get("FHIR", 0) for m in measured]
    aql = [m[0].get("openEHR", 0) for m in measured]
    queries = [m[1] for m in measured]
    rows.append(
        Row(
            SECTION,
            "patient page: FHIR / openEHR requests / DB queries at 5, 20, 50 letters per page",
            f"{max(fhir)} / {max(aql)} / {', '.join(map(str, queries))}",
            "≤ 1 FHIR + 1 AQL",
            target="≤ 1 FHIR + ≤ 1 AQL (+ EHR lookup), constant",
            met=max(fhir) <= 1 and len(set(queries)) == 1 and len(set(aql)) == 1,
            note=f"openEHR requests per view {aql} (EHR lookup by subject counts as one)",
        )
    )
    return rows
