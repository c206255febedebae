"""Many audit events in one INSERT, inside the caller's transaction (for bulk actions).

Each event is the same row ``console.audit.record_event`` would write; writing them with one
executemany keeps a bulk action over thousands of users to a handful of statements.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import insert

from console.audit import event_values, target_display_names
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
            written += _write(chunk)
            chunk = []
    if chunk:
        written += _write(chunk)
    return written


def _write(chunk: list[dict[str, Any]]) -> int:
    """Insert the rows with each target's name as it is now (one lookup per target type)."""
    for target_type in {row["target_type"] for row in chunk}:
        rows = [row for row in chunk if row["target_type"] == target_type]
        names = target_display_names(target_type, [r["target_id"] for r in rows if r["target_id"]])
        for row in rows:
            row["target_display_name"] = names.get(row["target_id"])
    db.session.execute(insert(AuditEvent), chunk)
    return len(chunk)
