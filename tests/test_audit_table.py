"""The audit table is append-only on both databases."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from console.audit import record_event
from console.db import db


def test_audit_rows_cannot_be_changed_or_deleted(any_app_factory: Callable[..., Flask]) -> None:
    app = any_app_factory()
    with app.app_context():
        event = record_event("test.event", details={"n": 1})
        db.session.commit()
        for statement in (
            "UPDATE audit_events SET action = 'tampered'",
            "DELETE FROM audit_events",
        ):
            with pytest.raises(DatabaseError, match="append-only"):
                db.session.execute(text(statement))
            db.session.rollback()
        assert db.session.execute(text("SELECT action FROM audit_events")).scalar() == "test.event"
        assert event.id is not None
