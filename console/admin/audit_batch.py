"""Many audit events in one INSERT, inside the caller's transaction (for bulk actions).

Each event is the same row ``console.audit.record_event`` would write; writing them with one
executemany keeps a bulk action over thousands of users to a handful of statements.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import insert

from console.audit import event_values
from console.db import db
from console.db.models import AuditEvent, User, utcnow

CHUNK = 1000


def record_events(action: str, events: Iterable[dict[str, Any]], actor: User | None = None) -> int:
    """Add one ``action`` event per item (keys: target_type, target_id, before, after, details)."""
    common = event_values(action, actor=actor) | {"occurred_at": utcnow()}
    written = 0
    chunk: list[dict[str, Any]] = []
    for item in events:
        chunk.append(
            common
            | {
                "target_type": item.get("target_type"),
                "target_id": None if item.get("target_id") is None else str(item["target_id"]),
                "before": item.get("before"),
                "after": item.get("after"),
                "details": item.get("details"),
            }
        )
        if len(chunk) >= CHUNK:
            db.session.execute(insert(AuditEvent), chunk)
            written += len(chunk)
            chunk = []
    if chunk:
        db.session.execute(insert(AuditEvent), chunk)
        written += len(chunk)
    return written
