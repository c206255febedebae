"""Consistency across pages: error titles, "Not known", one time format with the zone stated
once, typed DD-MM-YYYY dates, browsers named plainly."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask

from console.db.models import utcnow
from console.templating import browser_label, format_datetime
from tests.support.admin import BASE, Admin, add_events, add_session, insert_users, shown_actions

CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/156.0.0.0 Safari/537.36"
)


def title(page: str) -> str:
    match = re.search(r"<title>([^<]*)</title>", page)
    assert match is not None
    return match.group(1)


@pytest.mark.parametrize(
    "path",
    [
        "/no/such/page",
        "/admin/audit?since=yesterday",
        "/admin/users/999999",
        "/patients/?q=S",
    ],
)
def test_every_error_page_title_starts_error(admin: Admin, path: str) -> None:
    response = admin.get(path)
    assert response.status_code >= 400
    assert title(response.get_data(as_text=True)).startswith("Error: ")


def test_a_page_that_is_not_an_error_has_no_error_title(admin: Admin) -> None:
    assert not title(admin.get("/admin/audit").get_data(as_text=True)).startswith("Error")


def test_times_are_uk_time_in_one_format() -> None:
    assert format_datetime(datetime(2026, 7, 1, 12, 5, tzinfo=UTC)) == "01-Jul-2026 13:05"
    assert format_datetime(datetime(2026, 1, 1, 12, 5, tzinfo=UTC)) == "01-Jan-2026 12:05"
    assert format_datetime(datetime(2026, 1, 1, 12, 5)) == "01-Jan-2026 12:05"  # naive is UTC
    assert format_datetime(None) == "Not known"


def test_the_time_zone_is_stated_once_on_pages_showing_times(app: Flask, admin: Admin) -> None:
    add_events(app, [{"action": "test.a"}, {"action": "test.b"}])
    page = admin.get("/admin/audit?action=test.").get_data(as_text=True)
    assert page.count("Times are UK time") == 1
    assert "01-Mar-2026 12:00" in page, "seconds and UTC labels are gone"
    assert "Times are UK time" not in admin.get("/admin/roles").get_data(as_text=True)


def test_audit_dates_are_typed_day_month_year(app: Flask, admin: Admin) -> None:
    add_events(app, [
        {"action": "test.early", "occurred_at": BASE},
        {"action": "test.late", "occurred_at": BASE + timedelta(days=3)},
    ])  # fmt: skip
    page = admin.get("/admin/audit?action=test.&since=02-03-2026").get_data(as_text=True)
    assert shown_actions(page) == ["test.late"]
    page = admin.get("/admin/audit?action=test.&until=01-03-2026").get_data(as_text=True)
    assert shown_actions(page) == ["test.early"]
    response = admin.get("/admin/audit?since=31-02-2026")
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("agent", "label"),
    [
        (CHROME, "Chrome 156 on Linux"),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
         "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1", "Mobile Safari 17 on iOS"),
        ("", "Not known"),
        (None, "Not known"),
        ("<script>", "Not known"),
    ],
)  # fmt: skip
def test_browsers_are_named_plainly(agent: str | None, label: str) -> None:
    assert browser_label(agent) == label


def test_the_sessions_page_names_the_browser(app: Flask, admin: Admin) -> None:
    (alice,) = insert_users(app, [{"username": "alice"}])
    add_session(app, alice, last_seen=utcnow(), browser=CHROME)
    page = admin.get("/admin/sessions").get_data(as_text=True)
    assert ">Chrome 156 on Linux</td>" in page
