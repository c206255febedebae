"""Figure 4: the auth database at hospital scale on PostgreSQL, and Flask-Admin over the same table."""

from __future__ import annotations

import html
import re
from typing import Any

from flask import Flask

from bench.context import Context
from bench.core import NotRun, Row, ms, percentile, ratio, timed, timed_pairs
from bench.env import build_app, endpoint_url, make_user, signed_in_client

SECTION = "4 scale (PostgreSQL)"
_NEXT = re.compile(r'href="([^"]*\bafter=[^"]*)"')


def _get(client: Any, url: str) -> Any:
    response = client.get(url)
    if response.status_code != 200:
        raise NotRun(f"GET {url} answered {response.status_code}")
    return response


def _p95(client: Any, url: str, samples: int) -> tuple[float, float]:
    _get(client, url)
    durations = timed(lambda: _get(client, url), samples, warmup=2)
    return percentile(durations, 50), percentile(durations, 95)


def _paired(
    client: Any, url: str, peer: Any, peer_url: str, samples: int
) -> tuple[tuple[float, float], tuple[float, float]]:
    """(p50, p95) of ours and of Flask-Admin, their requests alternating, so that whatever
    else the machine is doing weighs on both alike."""
    ours, theirs = timed_pairs(lambda: _get(client, url), lambda: _get(peer, peer_url), samples)
    return (
        (percentile(ours, 50), percentile(ours, 95)),
        (percentile(theirs, 50), percentile(theirs, 95)),
    )


def flask_admin_peer(database_url: str) -> Flask:
    """Flask-Admin's stock ``ModelView`` over the console's users table."""
    try:
        from flask_admin import Admin
        from flask_admin.contrib.sqla import ModelView
    except ModuleNotFoundError as exc:
        raise NotRun("Flask-Admin is not installed (pip install -e '.[bench]')") from exc
    from console.db import db
    from console.db.models import User

    class UserView(ModelView):  # type: ignore[misc]
        column_list = ("username", "full_name", "email", "active", "last_sign_in_at")
        column_searchable_list = ("username", "email", "full_name")
        column_sortable_list = ("username", "full_name", "email", "last_sign_in_at")
        page_size = 50
        can_create = can_edit = can_delete = False

    app = Flask("flask_admin_peer")
    app.config.update(
        SQLALCHEMY_DATABASE_URI=database_url,
        SECRET_KEY="bench only, never served",  # noqa: S106
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True},
    )
    db.init_app(app)
    admin = Admin(app, name="peer", url="/fa")
    admin.add_view(UserView(User, db.session, endpoint="fa_users"))
    return app


def run(ctx: Context) -> list[Row]:
    """p50/p95 of our users list and audit viewer at scale; the same list in Flask-Admin."""
    scale = ctx.scale_database()
    config = ctx.workspace.config(scale["url"])
    app = build_app(config)
    make_user(app, "bench.scale.admin", ("System administrator",))
    client = signed_in_client(app, "bench.scale.admin")
    users = endpoint_url(app, "admin.users")
    samples = ctx.args.samples
    size = f"{scale['users']:,} users"

    first = _get(client, users).get_data(as_text=True)
    match = _NEXT.search(first)
    next_page = html.unescape(match.group(1)) if match else None
    ours = {
        "first page": users,
        "search 'smith'": f"{users}?q=smith",
        "sort by last sign-in, newest first": f"{users}?sort=last_sign_in&dir=desc",
        "filter status": f"{users}?status=disabled",
    }
    if next_page:
        ours["next page"] = next_page
    peer_app = flask_admin_peer(scale["url"])
    peer = peer_app.test_client()
    # Flask-Admin sorts by column index in column_sortable_list: 3 = last_sign_in_at.
    theirs = {
        "first page": "/fa/fa_users/",
        "search 'smith'": "/fa/fa_users/?search=smith",
        "sort by last sign-in, newest first": "/fa/fa_users/?sort=3&desc=1",
        "filter status": None,
        "next page": "/fa/fa_users/?page=1",
        "deep page": f"/fa/fa_users/?page={max(1, scale['users'] // 50 - 10)}",
    }
    rows: list[Row] = []
    for case, url in ours.items():
        peer_url = theirs.get(case)
        if peer_url:
            (p50, p95), (peer50, peer95) = _paired(client, url, peer, peer_url, samples)
            rows.append(
                Row(
                    SECTION,
                    f"users list: {case} ({size}) p95",
                    ms(p95),
                    f"Flask-Admin {ms(peer95)}",
                    ratio(p95, peer95),
                    "ours ÷ Flask-Admin ≤ 1",
                    p95 <= peer95,
                    f"p50 {ms(p50)}, Flask-Admin p50 {ms(peer50)}; requests alternating",
                )
            )
        else:
            p50, p95 = _p95(client, url, samples)
            rows.append(
                Row(SECTION, f"users list: {case} ({size}) p95", ms(p95), note=f"p50 {ms(p50)}")
            )
    _, deep95 = _p95(peer, theirs["deep page"], max(5, samples // 3))
    rows.append(
        Row(
            SECTION,
            "Flask-Admin users list: deep page (offset paging) p95",
            ms(deep95),
            note="ours has no offset pages: keyset 'next' costs the same at any depth",
        )
    )
    rows.extend(_audit(ctx, app, client, scale, samples))
    return rows


def _audit(ctx: Context, app: Flask, client: Any, scale: dict[str, Any], samples: int) -> list[Row]:
    try:
        audit = endpoint_url(app, "admin.audit")
    except NotRun as exc:
        return [Row(SECTION, "audit viewer", "not run", note=str(exc))]
    size = f"{scale['events']:,} events"
    first = _get(client, audit).get_data(as_text=True)
    match = _NEXT.search(first)
    cases = {
        "first page": audit,
        "filter action (rare)": f"{audit}?action=users.disable",
        "filter outcome": f"{audit}?outcome=failure",
        "filter patient": f"{audit}?patient=pat-4242",
        "filter actor": f"{audit}?actor={scale['sample_username']}",
    }
    if match:
        cases["next page"] = html.unescape(match.group(1))
    rows = []
    for case, url in cases.items():
        p50, p95 = _p95(client, url, samples)
        rows.append(
            Row(SECTION, f"audit viewer: {case} ({size}) p95", ms(p95), note=f"p50 {ms(p50)}")
        )
    return rows
