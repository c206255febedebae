"""The users list: search, filters, sort, keyset pages, URL state, htmx fragments."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from console.db import db
from console.db.models import User, utcnow
from tests.support.admin import Admin, insert_users, signed_in

ROW = re.compile(
    r'<tr>\s*<td class="select-column"><input type="checkbox" form="bulk-form" name="ids" value="(\d+)"'
)
USERNAME = re.compile(r'href="/admin/users/\d+">([^<]+)</a></td>')


def usernames(html: str) -> list[str]:
    """Usernames of the result rows, in order."""
    return USERNAME.findall(html)


def next_link(html: str) -> str | None:
    match = re.search(r'id="page-next" href="([^"]+)"', html)
    return match.group(1).replace("&amp;", "&") if match else None


def prev_link(html: str) -> str | None:
    match = re.search(r'id="page-prev" href="([^"]+)"', html)
    return match.group(1).replace("&amp;", "&") if match else None


def walk(admin: Admin, path: str) -> list[str]:
    """Every username of a listing, following "Next page" to the end."""
    seen: list[str] = []
    url: str | None = path
    while url:
        html = admin.get(url).get_data(as_text=True)
        seen.extend(usernames(html))
        url = next_link(html)
    return seen


def test_search_matches_username_name_and_email_case_insensitively(
    app: Flask, admin: Admin
) -> None:
    insert_users(
        app,
        [
            {"username": "mary.smith", "full_name": "Mary Smith"},
            {"username": "jsmythe", "full_name": "John SMYTHE"},
            {"username": "other", "full_name": "Ann Other", "email": "ann@smithfield.example"},
            {"username": "nobody", "full_name": "No Match"},
        ],
    )
    assert usernames(admin.get("/admin/users?q=SMITH").get_data(as_text=True)) == [
        "mary.smith",
        "other",
    ]
    assert usernames(admin.get("/admin/users?q=smythe").get_data(as_text=True)) == ["jsmythe"]


def test_search_treats_like_wildcards_as_text(app: Flask, admin: Admin) -> None:
    insert_users(
        app, [{"username": "under_score"}, {"username": "underxscore"}, {"username": "pct"}]
    )
    assert usernames(admin.get("/admin/users?q=r_s").get_data(as_text=True)) == ["under_score"]
    assert usernames(admin.get("/admin/users?q=%25").get_data(as_text=True)) == []


def test_filters_by_role_status_and_dormancy(app: Flask, admin: Admin) -> None:
    now = utcnow()
    insert_users(app, [{"username": "clin.active", "last_sign_in_at": now}], roles=("Clinician",))
    insert_users(
        app,
        [
            {"username": "clin.off", "active": False, "last_sign_in_at": now - timedelta(days=200)},
            {"username": "clin.locked", "locked_until": now + timedelta(minutes=10)},
            {"username": "clin.was.locked", "locked_until": now - timedelta(minutes=10)},
        ],
        roles=("Clinician",),
    )
    insert_users(
        app,
        [
            {"username": "aud.new", "must_change_password": True, "created_at": now},
            {"username": "aud.old", "totp_enabled": True, "created_at": now - timedelta(days=400)},
        ],
        roles=("Auditor",),
    )
    insert_users(app, [{"username": "norole", "totp_enabled": True, "last_sign_in_at": now}])

    def names(query: str) -> list[str]:
        return usernames(admin.get("/admin/users?" + query).get_data(as_text=True))

    assert names("role=2") == ["clin.active", "clin.locked", "clin.off", "clin.was.locked"]
    assert names("role=none") == ["norole"]
    assert names("status=disabled") == ["clin.off"]
    assert names("status=locked") == ["clin.locked"]
    assert names("status=must_change_password") == ["aud.new"]
    assert "aud.old" not in names("status=no_totp") and "clin.off" in names("status=no_totp")
    # Dormant: no sign-in for 90 days, or never signed in and created more than 90 days ago.
    assert names("dormant=90") == ["aud.old", "clin.off"]
    assert names("role=2&status=disabled&dormant=90") == ["clin.off"]


@pytest.mark.parametrize(
    ("sort", "direction", "expected"),
    [
        ("username", "asc", ["anna", "bea", "cai", "dev", "root"]),
        ("username", "desc", ["root", "dev", "cai", "bea", "anna"]),
        ("email", "asc", ["dev", "cai", "anna", "bea", "root"]),
        ("name", "asc", ["bea", "dev", "cai", "root", "anna"]),
        ("last_sign_in", "desc", ["root", "bea", "anna", "dev", "cai"]),
        ("last_sign_in", "asc", ["anna", "bea", "root", "cai", "dev"]),
    ],
)
def test_sorts_by_each_column_never_signed_in_last(
    app: Flask, admin: Admin, sort: str, direction: str, expected: list[str]
) -> None:
    now = utcnow()
    insert_users(
        app,
        [
            {"username": "anna", "email": "c@example.org", "full_name": "Zed",
             "last_sign_in_at": now - timedelta(days=3)},
            {"username": "bea", "email": "d@example.org", "full_name": "Amy",
             "last_sign_in_at": now - timedelta(days=1)},
            {"username": "cai", "email": "b@example.org", "full_name": "Pat"},
            {"username": "dev", "email": "a@example.org", "full_name": "Kim"},
        ],
    )  # fmt: skip
    html = admin.get(f"/admin/users?sort={sort}&dir={direction}").get_data(as_text=True)
    # root (the signed-in administrator, full name "Root") signed in just now.
    assert usernames(html) == expected
    assert f'aria-sort="{"ascending" if direction == "asc" else "descending"}"' in html


def test_every_user_appears_exactly_once_across_pages_in_every_order(
    app: Flask, admin: Admin
) -> None:
    now = utcnow()
    # Many ties (same name, same sign-in time) and many without a sign-in, across page borders.
    rows = [
        {"username": f"u{i:03}", "full_name": f"Name {i % 3}",
         "last_sign_in_at": None if i % 4 == 0 else now - timedelta(hours=i % 5)}
        for i in range(57)
    ]  # fmt: skip
    insert_users(app, rows)
    everyone = sorted([r["username"] for r in rows] + ["root"])
    for sort in ("username", "name", "email", "last_sign_in", "created"):
        for direction in ("asc", "desc"):
            seen = walk(admin, f"/admin/users?sort={sort}&dir={direction}&per_page=25")
            assert sorted(seen) == everyone, (sort, direction)
            assert len(seen) == len(set(seen)), (sort, direction)


def _pagination_with_concurrent_inserts(app: Flask, admin: Admin) -> None:
    insert_users(app, [{"username": f"k{i:02}"} for i in range(0, 60, 2)])  # k00, k02, ... k58
    first = admin.get("/admin/users?q=k&per_page=25").get_data(as_text=True)
    page1 = usernames(first)
    assert page1 == [f"k{i:02}" for i in range(0, 50, 2)]
    # Others add users before, exactly at, and after the page border while we read.
    insert_users(app, [{"username": "k01"}, {"username": "k48a"}, {"username": "k49"}])
    second = admin.get(next_link(first) or "").get_data(as_text=True)
    assert usernames(second) == ["k48a", "k49", "k50", "k52", "k54", "k56", "k58"]
    # And back: the previous page is the 25 rows just before the second page's first row.
    back = admin.get(prev_link(second) or "").get_data(as_text=True)
    assert usernames(back) == sorted([*page1, "k01"])[-25:]


def test_keyset_pages_neither_repeat_nor_skip_rows_when_users_are_added(
    app: Flask, admin: Admin
) -> None:
    _pagination_with_concurrent_inserts(app, admin)


@pytest.mark.postgres
def test_keyset_pages_with_concurrent_inserts_on_postgresql(
    pg_app_factory: Callable[..., Flask],
) -> None:
    app = pg_app_factory()
    _pagination_with_concurrent_inserts(app, signed_in(app, "root", ("System administrator",)))


def test_search_and_sort_on_postgresql_and_sqlite(any_app_factory: Callable[..., Flask]) -> None:
    app = any_app_factory()
    admin = signed_in(app, "root", ("System administrator",))
    insert_users(
        app,
        [{"username": f"staff{i:02}", "full_name": f"Ward {i % 2} Nurse"} for i in range(30)],
    )
    seen = walk(admin, "/admin/users?q=ward+1&sort=username&dir=desc&per_page=25")
    assert seen == [f"staff{i:02}" for i in range(29, 0, -2)]
    assert walk(admin, "/admin/users?q=WARD&sort=name&per_page=25")[:15] == [
        f"staff{i:02}" for i in range(0, 30, 2)
    ]


def test_a_tampered_cursor_shows_the_first_page(app: Flask, admin: Admin) -> None:
    insert_users(app, [{"username": "abc"}])
    for cursor in ("not-base64!", "WyJ4IiwxLDFd", "e30", "W10", "x" * 2000):
        response = admin.get(f"/admin/users?after={cursor}")
        assert response.status_code == 200
        assert usernames(response.get_data(as_text=True)) == ["abc", "root"]


def test_htmx_requests_get_the_results_fragment_and_full_requests_the_page(
    app: Flask, admin: Admin
) -> None:
    insert_users(app, [{"username": "frag"}])
    page = admin.get("/admin/users?q=frag")
    fragment = admin.get("/admin/users?q=frag", htmx=True)
    page_html, fragment_html = page.get_data(as_text=True), fragment.get_data(as_text=True)
    assert "<html" in page_html and 'id="user-filters"' in page_html
    assert "<html" not in fragment_html and 'id="user-filters"' not in fragment_html
    assert usernames(page_html) == usernames(fragment_html) == ["frag"]
    # The fragment updates the live status and the view-dependent controls out of band.
    assert 'id="user-results-status" hx-swap-oob="innerHTML">Showing 1 user' in fragment_html
    assert 'id="bulk-filter-state" hx-swap-oob="true"' in fragment_html
    assert "/admin/users/export.csv?q=frag" in fragment_html
    assert "HX-Request" in fragment.headers["Vary"]


def test_htmx_history_restore_and_boosted_requests_get_the_whole_page(
    app: Flask, admin: Admin
) -> None:
    """htmx asks for the whole page when its history cache misses (or for a boosted link)."""
    insert_users(app, [{"username": "restore"}], roles=("Clinician",))
    for header in ("HX-History-Restore-Request", "HX-Boosted"):
        page = admin.client.get(
            "/admin/users?q=restore", headers={"HX-Request": "true", header: "true"}
        )
        html = page.get_data(as_text=True)
        assert "<html" in html and 'id="user-filters"' in html, header
        assert usernames(html) == ["restore"]


def test_one_rule_says_who_is_locked_in_python_and_in_sql(app: Flask) -> None:
    now = utcnow()
    insert_users(
        app,
        [
            {"username": "lock.future", "locked_until": now + timedelta(minutes=1)},
            {"username": "lock.past", "locked_until": now - timedelta(minutes=1)},
            {"username": "lock.none", "failed_login_count": 3},
        ],
    )
    with app.app_context():
        users = db.session.scalars(select(User).where(User.username.like("lock.%"))).all()
        in_python = sorted(u.username for u in users if u.is_locked(now))
        in_sql = sorted(db.session.scalars(select(User.username).where(User.is_locked(now))))
    assert in_python == in_sql == ["lock.future"]


def test_the_view_lives_in_the_url_so_it_can_be_bookmarked(app: Flask, admin: Admin) -> None:
    insert_users(app, [{"username": f"book{i:02}"} for i in range(30)], roles=("Clinician",))
    html = admin.get("/admin/users?q=book&role=2&sort=email&dir=desc&per_page=25").get_data(
        as_text=True
    )
    # Without JavaScript the form shows the current view, and every link keeps it.
    assert 'name="q" value="book"' in html
    assert '<option value="2" selected>Clinician</option>' in html
    assert '<option value="25" selected>25</option>' in html
    link = next_link(html) or ""
    for part in ("q=book", "role=2", "sort=email", "dir=desc", "per_page=25", "after="):
        assert part in link
    assert usernames(admin.get(link).get_data(as_text=True)) == ["book04", "book03", "book02",
                                                                  "book01", "book00"]  # fmt: skip


def test_search_box_is_an_active_search_with_indicator(admin: Admin) -> None:
    html = admin.get("/admin/users").get_data(as_text=True)
    assert 'hx-trigger="input changed delay:300ms, search"' in html
    assert 'hx-indicator="#user-search-indicator"' in html
    assert 'hx-push-url="true"' in html
    assert 'method="get" action="/admin/users"' in html  # works as a plain form
    assert 'role="status" aria-live="polite"' in html


def test_rows_carry_lock_sign_in_two_factor_and_role_badges(app: Flask, admin: Admin) -> None:
    now = utcnow()
    insert_users(
        app,
        [{"username": "badged", "locked_until": now + timedelta(minutes=5), "totp_enabled": True,
          "must_change_password": True}],
        roles=("Auditor", "Clinician"),
    )  # fmt: skip
    html = admin.get("/admin/users?q=badged").get_data(as_text=True)
    row = html[html.index(">badged<") :]
    row = row[: row.index("</tr>")]
    assert "Locked until" in row and "Two-factor on" in row and "Must change password" in row
    assert (
        '<span class="badge">Auditor</span>' in row
        and '<span class="badge">Clinician</span>' in row
    )
    assert "Never" in row  # never signed in


def test_counting_matching_users_happens_only_on_request(app: Flask, admin: Admin) -> None:
    insert_users(app, [{"username": f"cnt{i}"} for i in range(7)])
    listing = admin.get("/admin/users?q=cnt", htmx=True).get_data(as_text=True)
    assert "users match" not in listing
    counted = admin.get("/admin/users/count?q=cnt", htmx=True).get_data(as_text=True)
    assert "7 users match the search and filters." in counted
    page = admin.get("/admin/users/count?q=cnt").get_data(as_text=True)
    assert "<html" in page and "7 users match" in page


def test_bad_filter_values_are_ignored_not_errors(admin: Admin) -> None:
    response = admin.get(
        "/admin/users?role=x&status=zzz&dormant=-3&sort=password_hash&dir=up&per_page=7"
    )
    assert response.status_code == 200
    assert usernames(response.get_data(as_text=True)) == ["root"]


def test_paging_by_link_moves_focus_to_the_results(app: Flask, admin: Admin) -> None:
    insert_users(app, [{"username": f"fo{i:02}"} for i in range(30)])
    html = admin.get("/admin/users?q=fo&per_page=25").get_data(as_text=True)
    link = next_link(html) or ""
    paged = admin.client.get(link, headers={"HX-Request": "true", "HX-Trigger": "page-next"})
    assert 'id="results-heading" tabindex="-1" data-autofocus' in paged.get_data(as_text=True)
    typed = admin.client.get(link, headers={"HX-Request": "true", "HX-Trigger": "user-search"})
    assert "data-autofocus" not in typed.get_data(as_text=True)  # typing keeps focus in the box


def test_the_list_asks_for_its_total_by_itself_without_taking_the_focus(
    app: Flask, admin: Admin
) -> None:
    insert_users(app, [{"username": f"tot{i}"} for i in range(3)])
    listing = admin.get("/admin/users?q=tot").get_data(as_text=True)
    assert 'hx-get="/admin/users/count?auto=1&amp;q=tot" hx-trigger="load"' in listing
    auto = admin.get("/admin/users/count?auto=1&q=tot", htmx=True).get_data(as_text=True)
    assert "3 users match the search and filters." in auto and "data-autofocus" not in auto
    clicked = admin.get("/admin/users/count?q=tot", htmx=True).get_data(as_text=True)
    assert "data-autofocus" in clicked
