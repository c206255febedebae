"""Reading the audit log in tests: the rows a test's actions wrote."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from console.db import db
from console.db.models import AuditEvent


def audit_rows(app: Flask, action: str | None = None) -> list[AuditEvent]:
    """Audit events (optionally of one action), oldest first, detached from the session."""
    with app.app_context():
        stmt = select(AuditEvent).order_by(AuditEvent.id)
        if action is not None:
            stmt = stmt.where(AuditEvent.action == action)
        rows = list(db.session.scalars(stmt))
        for row in rows:
            db.session.expunge(row)
        return rows


def audit_count(app: Flask) -> int:
    """How many audit events there are."""
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuditEvent)) or 0
