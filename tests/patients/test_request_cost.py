"""What a patient page costs the auth database: one transaction, the audit row in it, no re-reads.

The patient search and the patient page commit their audit row before showing anything; the
page rendered after that commit must not read the signed-in user, their roles or their
permissions again, and a change to those roles must still count from the very next request.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select

from console.db import db
from console.db.models import User
from tests.support.fhir import Hapi
from tests.support.patients import mary


@contextmanager
def statements(app: Flask) -> Iterator[list[str]]:
    """The SQL statements and COMMITs the app sends while inside."""
    seen: list[str] = []
    with app.app_context():
        engine = db.engine

    def on_execute(_conn, _cursor, statement: str, *_args) -> None:  # type: ignore[no-untyped-def]
        seen.append(" ".join(statement.split()))

    def on_commit(_conn) -> None:  # type: ignore[no-untyped-def]
        seen.append("COMMIT")

    event.listen(engine, "before_cursor_execute", on_execute)
    event.listen(engine, "commit", on_commit)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
        event.remove(engine, "commit", on_commit)


def _reads_users(statement: str) -> bool:
    return statement.startswith("SELECT") and "users.id" in statement


@pytest.mark.parametrize("page", ["search", "patient"])
def test_a_patient_page_is_one_transaction_with_its_audit_row(
    console: Flask, clinician: FlaskClient, hapi: Hapi, page: str
) -> None:
    [pid] = hapi.app.seed([mary()])
    path = "/patients/?q=jones" if page == "search" else f"/patients/{pid}"
    assert clinician.get(path).status_code == 200  # the session's last-seen time is fresh now

    with statements(console) as seen:
        response = clinician.get(path)

    assert response.status_code == 200
    assert "JONES" in response.get_data(as_text=True)
    assert seen.count("COMMIT") == 1, seen
    insert = next(i for i, s in enumerate(seen) if s.startswith("INSERT INTO audit_events"))
    assert insert < seen.index("COMMIT"), "the audit row must be committed with the request"
    after_commit = seen[seen.index("COMMIT") + 1 :]
    assert after_commit == [], f"statements after the audit commit: {after_commit}"
    assert len([s for s in seen if _reads_users(s)]) == 1, f"the user is read once: {seen}"
    assert len(seen) <= 5, f"more than the session with its user, settings and audit: {seen}"


def test_navigation_after_the_audit_commit_still_follows_the_roles(
    console: Flask, clinician: FlaskClient, hapi: Hapi
) -> None:
    [pid] = hapi.app.seed([mary()])
    page = clinician.get(f"/patients/{pid}").get_data(as_text=True)
    assert 'href="/patients/"' in page  # the navigation is drawn after the audit commit
    assert 'href="/admin/users"' not in page


def test_roles_taken_away_count_from_the_next_request(
    console: Flask, clinician: FlaskClient, hapi: Hapi
) -> None:
    [pid] = hapi.app.seed([mary()])
    assert clinician.get(f"/patients/{pid}").status_code == 200
    with console.app_context():
        user = db.session.scalar(select(User).where(User.username == "user1"))
        assert user is not None
        user.roles = []  # (a role with an admin permission would first ask for two-factor)
        db.session.commit()
    assert clinician.get(f"/patients/{pid}").status_code == 403
    assert clinician.get("/patients/?q=jones").status_code == 403
