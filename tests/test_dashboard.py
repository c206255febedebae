"""The dashboard: a patient search box for clinical staff, account counts for administrators."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from flask import Flask

from console.db.models import utcnow
from tests.support.users import make_user, sign_in


def _counts(html: str) -> dict[str, tuple[int, str]]:
    """Label → (count, link) of the 'Accounts needing attention' list."""
    found = re.findall(
        r'<li><a href="([^"]+)"><span class="summary-count">([\d,]+)</span> ([^<]+)</a></li>', html
    )
    return {label: (int(count.replace(",", "")), href) for href, count, label in found}


def test_clinicians_get_a_patient_search_box_and_no_account_figures(app: Flask) -> None:
    make_user(app, "clara", roles=("Clinician",))
    client = app.test_client()
    sign_in(client, "clara")
    page = client.get("/").get_data(as_text=True)
    assert re.search(r'<form class="dashboard-search" method="get" action="/patients/"', page)
    assert 'name="q"' in page
    assert "Accounts needing attention" not in page


def test_administrators_see_how_many_accounts_need_attention(
    any_app_factory: Callable[..., Flask],
) -> None:
    app = any_app_factory()
    long_ago = utcnow() - timedelta(days=200)
    make_user(app, "root", roles=("System administrator",))  # enrolled, as admins must be
    make_user(app, "locked1", locked_until=utcnow() + timedelta(minutes=5), totp_enabled=True)
    make_user(app, "wasLocked", locked_until=utcnow() - timedelta(minutes=5), totp_enabled=True)
    make_user(app, "newbie", must_change_password=True)
    make_user(app, "gone", active=False, totp_enabled=True, last_sign_in_at=long_ago,
              created_at=long_ago)  # fmt: skip
    client = app.test_client()
    sign_in(client, "root")
    page = client.get("/").get_data(as_text=True)
    counts = _counts(page)
    assert counts["Locked after failed sign-ins"] == (1, "/admin/users?status=locked")
    assert counts["Must change their password"][0] == 1
    assert counts["Without two-factor authentication"][0] == 1
    assert counts["No sign-in for 90 days or more"] == (1, "/admin/users?dormant=90")
    assert counts["Disabled"][0] == 1
    assert 'class="dashboard-search"' not in page, "a system administrator sees no patient data"
    listed = client.get("/admin/users?status=locked").get_data(as_text=True)
    assert "locked1" in listed and "wasLocked" not in listed
