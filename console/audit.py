"""Record audit events inside the caller's transaction.

``record_event`` adds the row to the current auth-database session and flushes it, so a
failure to write it surfaces before the caller commits or shows anything.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from flask import g, has_request_context, request
from flask_login import current_user
from sqlalchemy import insert, select
from sqlalchemy.exc import SQLAlchemyError

from console.db import db
from console.db.models import AuditEvent, Role, User

OUTCOMES = ("success", "failure", "denied")

log = logging.getLogger(__name__)


class AuditUnavailable(Exception):
    """The audit row could not be written, so the data must not be shown."""

    message = (
        "The console could not record this access in the audit log, so the record is not "
        "shown. Try again; if it keeps happening, tell the system administrator."
    )


def record_event(action: str, **fields: Any) -> AuditEvent:
    """Add an audit event to the current transaction (the caller commits).

    ``fields`` are ``event_values``'s keywords. ``from_request=False`` is for housekeeping done
    while some unrelated request is handled (e.g. removing expired sessions): that request's id
    and client address are not recorded.
    """
    event = AuditEvent(**event_values(action, **fields))
    db.session.add(event)
    db.session.flush()
    return event


def event_values(
    action: str,
    *,
    outcome: str = "success",
    target_type: str | None = None,
    target_id: str | int | None = None,
    patient_id: str | None = None,
    patient_nhs_number: str | None = None,
    patient_name: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    details: dict[str, Any] | None = None,
    actor: User | None = None,
    from_request: bool = True,
) -> dict[str, Any]:
    """The column values of an audit row (who, from where, what, and the outcome)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}")
    if actor is None and has_request_context() and current_user.is_authenticated:
        actor = current_user._get_current_object()  # type: ignore[attr-defined]
    in_request = from_request and has_request_context()
    return {
        "action": action,
        "outcome": outcome,
        "actor_id": actor.id if actor is not None else None,
        "actor_username": actor.username if actor is not None else None,
        "actor_display_name": display_name(actor),
        "target_type": target_type,
        "target_id": str(target_id) if target_id is not None else None,
        "target_display_name": (
            target_display_names(target_type, [str(target_id)]).get(str(target_id))
            if target_id is not None
            else None
        ),
        "patient_id": patient_id,
        "patient_nhs_number": patient_nhs_number or None,
        "patient_name": patient_name[:200] if patient_name else None,
        "before": before,
        "after": after,
        "details": details,
        "request_id": getattr(g, "request_id", None) if in_request else None,
        "client_address": request.remote_addr if in_request else None,
    }


def display_name(user: User | None) -> str | None:
    """``Full Name (username)`` (or the username alone) as the audit log shows a user."""
    if user is None:
        return None
    return f"{user.full_name} ({user.username})" if user.full_name else user.username


def target_display_names(target_type: str | None, target_ids: Iterable[str]) -> dict[str, str]:
    """The current names of user and role targets, by target id (one query)."""
    ids = {int(t) for t in target_ids if t and t.isascii() and t.isdigit() and len(t) < 10}
    if not ids or target_type not in ("user", "role"):
        return {}
    if target_type == "role":
        rows = db.session.execute(select(Role.id, Role.name).where(Role.id.in_(ids)))
        return {str(rid): f"role {name}" for rid, name in rows}
    users = db.session.execute(
        select(User.id, User.username, User.full_name).where(User.id.in_(ids))
    )
    return {
        str(uid): f"{full_name} ({username})" if full_name else username
        for uid, username, full_name in users
    }


def changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields that differ, as (before, after) for an edit's audit row."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def record_access(action: str, **fields: Any) -> None:
    """Record and commit who looked at clinical data, before it is shown (fail closed).

    Raises ``AuditUnavailable`` when the row cannot be written; the caller shows nothing.
    """
    try:
        # A plain INSERT rather than a unit-of-work flush: nothing reads the row back, and
        # this runs on every patient and letter page.
        db.session.execute(insert(AuditEvent.__table__), event_values(action, **fields))
        _commit_keeping_loaded_state()
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.error("audit write failed for %s: %s", action, type(exc).__name__)
        raise AuditUnavailable from exc


def _commit_keeping_loaded_state() -> None:
    """Commit without expiring what this request has already loaded (the signed-in user, their
    roles and permissions): the page rendered after the audit commit would otherwise read them
    all again from the database. What the page then shows of them is what this request read a
    moment before the commit, as it would have been had the page been rendered first."""
    session = db.session()
    expire = session.expire_on_commit
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expire
