"""The audit log viewer: filters, names for ids, diffs, keyset pages, read-only, CSV export."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from flask import Flask

import console
from console.admin.audit.services import KNOWN_ACTIONS
from tests.support.admin import BASE, Admin, add_events, insert_users, shown_actions, signed_in
from tests.support.audit import audit_rows

EVENT_ID = re.compile(r"of event (\d+)</span>")


def test_events_show_names_not_ids_and_a_diff_for_edits(app: Flask, admin: Admin) -> None:
    (nurse,) = insert_users(app, [{"username": "nurse", "full_name": "Nina Nurse"}])
    add_events(app, [
        {"action": "user.update", "actor_id": admin.user_id, "actor_username": "root",
         "target_type": "user", "target_id": str(nurse),
         "before": {"email": "old@example.org"}, "after": {"email": "new@example.org"}},
        {"action": "role.update", "actor_id": admin.user_id, "actor_username": "root",
         "target_type": "role", "target_id": "2", "before": {"permissions": ["a"]},
         "after": {"permissions": ["a", "b"]}, "occurred_at": BASE + timedelta(seconds=1)},
        {"action": "user.delete", "target_type": "user", "target_id": "987654",
         "occurred_at": BASE + timedelta(seconds=2)},
        {"action": "patient.view", "actor_id": nurse, "actor_username": "nurse",
         "patient_id": "p-42", "occurred_at": BASE + timedelta(seconds=3)},
    ])  # fmt: skip
    html = admin.get("/admin/audit").get_data(as_text=True)
    assert "Nina Nurse (nurse)" in html and "role Clinician" in html
    assert "user #987654 (deleted)" in html and "System" in html and "Patient p-42" in html
    assert (
        '<td class="diff-before">old@example.org</td><td class="diff-after">new@example.org</td>'
        in html
    )
    assert '<td class="diff-after">a, b</td>' in html
    assert [a for a in shown_actions(html) if a != "auth.sign_in" and a != "user.create"] == [
        "patient.view",
        "user.delete",
        "role.update",
        "user.update",
    ]


def test_filters(app: Flask, admin: Admin) -> None:
    alice, bob = insert_users(app, [{"username": "alice"}, {"username": "bob"}])
    add_events(app, [
        {"action": "patient.view", "actor_id": alice, "patient_id": "p1", "occurred_at": BASE},
        {"action": "patient.search", "actor_id": alice, "occurred_at": BASE + timedelta(days=1)},
        {"action": "user.disable", "actor_id": bob, "target_type": "user", "target_id": str(alice),
         "occurred_at": BASE + timedelta(days=2)},
        {"action": "auth.sign_in", "target_type": "user", "target_id": str(bob), "outcome": "failure",
         "occurred_at": BASE + timedelta(days=3)},
    ])  # fmt: skip

    def actions(query: str) -> list[str]:
        response = admin.get("/admin/audit?" + query)
        assert response.status_code == 200, response.get_data(as_text=True)
        return [a for a in shown_actions(response.get_data(as_text=True)) if a != "auth.sign_in"
                or "outcome" in query or "target_user" in query]  # fmt: skip

    assert actions("actor=alice") == ["patient.search", "patient.view"]
    assert actions("actor=ALICE&action=patient.view") == ["patient.view"]
    assert actions("action=patient.") == ["patient.search", "patient.view"]
    assert actions("action=patient*") == ["patient.search", "patient.view"]
    assert actions("target_user=alice") == ["user.disable"]
    assert actions("target_user=bob&outcome=failure") == ["auth.sign_in"]
    assert actions("patient=p1") == ["patient.view"]
    assert actions("since=2026-03-02&until=2026-03-03") == ["user.disable", "patient.search"]
    assert actions("since=2026-03-02T12:00&until=2026-03-03") == ["user.disable", "patient.search"]
    assert actions("until=2026-03-01") == ["patient.view"]


def test_impossible_filters_are_explained(admin: Admin) -> None:
    response = admin.get("/admin/audit?actor=nobody&since=yesterday")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "There is no user called nobody." in html and "Enter a date as day-month-year" in html
    backwards = admin.get("/admin/audit?since=2026-03-05&until=2026-03-01", htmx=True)
    assert backwards.status_code == 400 and backwards.headers["HX-Retarget"] == "#audit-results"
    assert "The end of the period must be after its start." in backwards.get_data(as_text=True)


def _paging(app: Flask, admin: Admin) -> None:
    add_events(
        app,
        [
            {"action": f"test.e{i:03}", "occurred_at": BASE + timedelta(seconds=i // 3)}
            for i in range(60)
        ],
    )  # fmt: skip  (ties on time, broken by id)
    first = admin.get("/admin/audit?action=test.&per_page=25").get_data(as_text=True)
    page1 = shown_actions(first)
    assert page1 == [f"test.e{i:03}" for i in range(59, 34, -1)]
    add_events(app, [{"action": "test.e999", "occurred_at": BASE + timedelta(days=1)}])  # newest
    older = re.search(r'id="page-next" href="([^"]+)"', first).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
    second = admin.get(older).get_data(as_text=True)
    assert shown_actions(second) == [f"test.e{i:03}" for i in range(34, 9, -1)]
    newer = re.search(r'id="page-prev" href="([^"]+)"', second).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
    assert shown_actions(admin.get(newer).get_data(as_text=True)) == page1


def test_paging_newest_first_without_repeats_or_gaps(any_app_factory: Callable[..., Flask]) -> None:
    app = any_app_factory()
    _paging(app, signed_in(app, "root", ("System administrator",)))


def test_htmx_gets_the_results_fragment(app: Flask, admin: Admin) -> None:
    add_events(app, [{"action": "test.one"}])
    fragment = admin.get("/admin/audit?action=test.one", htmx=True).get_data(as_text=True)
    assert "<html" not in fragment and "test.one" in fragment
    assert 'id="audit-results-status" hx-swap-oob="innerHTML">Showing 1 event' in fragment
    assert "<html" in admin.get("/admin/audit?action=test.one").get_data(as_text=True)


def test_the_log_cannot_be_changed_from_the_console(app: Flask, admin: Admin) -> None:
    methods = {
        method
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/admin/audit")
        for method in rule.methods or ()
    }
    assert methods <= {"GET", "HEAD", "OPTIONS"}
    assert admin.post("/admin/audit").status_code == 405


def test_csv_export_of_the_filtered_view(app: Flask, admin: Admin) -> None:
    (alice,) = insert_users(app, [{"username": "alice", "full_name": '=HYPERLINK("http://x")'}])
    add_events(app, [
        {"action": "user.update", "actor_id": admin.user_id, "actor_username": "root",
         "target_type": "user", "target_id": str(alice), "before": {"full_name": "+1"},
         "after": {"full_name": "=cmd|' /C calc'!A0"}},
        {"action": "patient.view", "actor_id": alice, "patient_id": "-42",
         "occurred_at": BASE + timedelta(minutes=1)},
        {"action": "other.thing", "occurred_at": BASE + timedelta(minutes=2)},
    ])  # fmt: skip
    response = admin.get("/admin/audit/export.csv?action=user.update")
    body = response.get_data()
    assert (
        response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    )
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:6] == ["Time (UTC)", "Actor", "Action", "Event", "Outcome", "Target"]
    assert [r[2] for r in rows[1:]] == ["user.update"]
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["Actor"] == "Root (root)"
    assert row["Event"] == "User details changed"
    assert row["Target"] == '\'=HYPERLINK("http://x") (alice)'
    assert row["After"] == '{"full_name": "=cmd|\' /C calc\'!A0"}'  # JSON text starts with {
    patient = (
        admin.get("/admin/audit/export.csv?action=patient.view").get_data().decode("utf-8-sig")
    )
    assert ",'-42," in patient  # a cell starting with - is neutralised
    export = audit_rows(app, "audit.export")
    assert [e.details for e in export] == [{"filter": {"action": "user.update"}},
                                           {"filter": {"action": "patient.view"}}]  # fmt: skip


def test_csv_export_streams_every_matching_row(app: Flask, admin: Admin) -> None:
    add_events(
        app,
        [{"action": "bulk.row", "occurred_at": BASE + timedelta(seconds=i)} for i in range(1234)],
    )
    response = admin.get("/admin/audit/export.csv?action=bulk.row")
    assert response.is_streamed
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert len(rows) == 1235
    assert rows[1][0].startswith("2026-03-01T12:20:33")  # newest first


def test_the_action_filter_suggests_every_action_the_console_records() -> None:
    patterns = (
        r'record_events?\(\s*"([a-z_]+\.[a-z_]+)"',  # record_event("user.delete", ...)
        r'audit_action="([a-z_]+\.[a-z_]+)"',  # reset_password(..., audit_action="...")
        r'_ACTION = "([a-z_]+\.[a-z_]+)"',  # VIEW_ACTION = "patient.view"
        r'Action\(\s*"[a-z_]+",\s*"[^"]+",\s*"([a-z_]+\.[a-z_]+)"',  # bulk actions
    )
    recorded: set[str] = set()
    for source in Path(console.__file__).parent.rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        for pattern in patterns:
            recorded.update(re.findall(pattern, text))
    assert len(recorded) >= 30
    assert recorded - set(KNOWN_ACTIONS) == set()


def test_actions_are_shown_by_what_they_mean_with_the_code_beside(app: Flask, admin: Admin) -> None:
    add_events(app, [
        {"action": "user.disable", "actor_id": admin.user_id, "actor_username": "root"},
        {"action": "custom.thing", "occurred_at": BASE + timedelta(minutes=1)},
    ])  # fmt: skip
    page = admin.get("/admin/audit").get_data(as_text=True)
    assert "User disabled" in page and "<code>user.disable</code>" in page
    assert "<code>custom.thing</code>" in page, "an action without a name shows its code"
    assert '<option value="patient.view">Patient record viewed</option>' in page
