"""Many audit events in one INSERT, inside the caller's transaction (for bulk actions).

Each event is the same row ``console.audit.record_event`` would write; writing them with one
executemany keeps a bulk action over thousands of users to a handful of statements.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import g, has_request_context, request
from flask_login import current_user
from sqlalchemy import insert

from console.db import db
from console.db.models import AuditEvent, User, utcnow

CHUNK = 1000


def record_events(action: str, events: Iterable[dict[str, Any]], actor: User | None = None) -> int:
    """Add one ``action`` event per item (keys: target_type, target_id, before, after, details)."""
    if actor is None and has_request_context() and current_user.is_authenticated:
        actor = current_user._get_current_object()  # type: ignore[attr-defined]
    common: dict[str, Any] = {
        "occurred_at": utcnow(),
        "action": action,
        "outcome": "success",
        "actor_id": actor.id if actor is not None else None,
        "actor_username": actor.username if actor is not None else None,
        "patient_id": None,
        "request_id": getattr(g, "request_id", None) if has_request_context() else None,
        "client_address": request.remote_addr if has_request_context() else None,
    }
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
