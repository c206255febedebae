"""Account actions over many users (one user, a selection, or everything a filter matches):
preview, signed confirmation and one transaction with one audit event per changed user."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, Signer
from sqlalchemy import (
    ColumnElement,
    delete,
    exists,
    func,
    insert,
    select,
    update,
)

from console.admin.audit.batch import record_events
from console.admin.privileges import check_not_own_roles, check_role_assignment
from console.admin.services import (
    AdminActionError,
    FieldErrors,
    transaction,
)
from console.admin.users.actions import BULK_ACTIONS, UserAction
from console.admin.users.guards import admin_guard
from console.admin.users.listing import UserFilter, filter_conditions
from console.admin.users.services import get_user, in_chunks
from console.auth.sessions import end_sessions_of_users
from console.db import db
from console.db.models import (
    Role,
    User,
    UserRole,
    utcnow,
)

# --- actions over many users (one user, a selection, or everything a filter matches) ------


SCOPES = ("selected", "filter")


@dataclass(frozen=True)
class BulkRequest:
    """An action over the selected users or over every user matching a filter."""

    action: str
    scope: str
    ids: tuple[int, ...] = ()
    filter: UserFilter = field(default_factory=UserFilter)
    role_id: int | None = None


@dataclass
class BulkPreview:
    """What a bulk action would do: how many users match and how many would change, and the
    signed confirmation of exactly that set of users."""

    request: BulkRequest
    action: UserAction
    matching: int
    changing: int
    role_name: str | None
    confirmation: str = ""


def _signer() -> Signer:
    return Signer(current_app.secret_key, salt="bulk-confirmation")  # type: ignore[arg-type]


def _digest(request: BulkRequest, ids: Sequence[int]) -> str:
    """A digest of the action, its scope and filter, and the exact users it would change."""
    text = json.dumps([repr(request), list(ids)], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _confirmed(request: BulkRequest, ids: Sequence[int], confirmation: str) -> bool:
    """True when ``confirmation`` was signed by this console for exactly these users."""
    try:
        digest = _signer().unsign(confirmation.encode("ascii", "replace")).decode()
    except BadSignature:
        return False
    return hmac.compare_digest(digest, _digest(request, ids))


class StaleSelection(AdminActionError):
    """The users the confirmation showed are no longer the users that would change (or there
    was no valid confirmation at all)."""

    def __init__(self, preview: BulkPreview) -> None:
        super().__init__(
            f"The users this would change are not the ones you confirmed: it would now change "
            f"{preview.changing} of {preview.matching} matching users. Check and confirm again."
        )
        self.preview = preview


def _validate(request: BulkRequest) -> tuple[UserAction, Role | None]:
    action = BULK_ACTIONS.get(request.action)
    if action is None:
        raise FieldErrors({"action": "Choose what to do with the users."})
    if request.scope not in SCOPES:
        raise FieldErrors({"scope": "Choose the selected users or every matching user."})
    if request.scope == "selected" and not request.ids:
        raise FieldErrors({"ids": "Select at least one user, or choose every matching user."})
    role = None
    if action.needs_role:
        role = db.session.get(Role, request.role_id) if request.role_id else None
        if role is None:
            raise FieldErrors({"role_id": "Choose the role to assign or remove."})
    return action, role


def _scope_conditions(request: BulkRequest, now: datetime) -> list[Any]:
    if request.scope == "selected":
        return [User.id.in_(request.ids)]
    return filter_conditions(request.filter, now)


def _change_condition(action: UserAction, role: Role | None) -> ColumnElement[bool]:
    """Users the action would actually change (the others already are as asked)."""
    assert action.pending is not None
    return action.pending(role)


def preview_bulk(request: BulkRequest, now: datetime | None = None) -> BulkPreview:
    """Count the matching users and the users the action would change."""
    now = now or utcnow()
    action, role = _validate(request)
    scope = _scope_conditions(request, now)
    matching = db.session.scalar(select(func.count()).select_from(User).where(*scope)) or 0
    ids = _changing_ids(request, action, role, now)
    return BulkPreview(
        request,
        action,
        matching,
        len(ids),
        role.name if role else None,
        confirmation=_signer().sign(_digest(request, ids)).decode(),
    )


def _changing_ids(
    request: BulkRequest, action: UserAction, role: Role | None, now: datetime
) -> list[int]:
    return list(
        db.session.scalars(
            select(User.id)
            .where(*_scope_conditions(request, now), _change_condition(action, role))
            .order_by(User.id)
        )
    )


def _roles_of(user_ids: Sequence[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {user_id: [] for user_id in user_ids}
    for chunk in in_chunks(list(user_ids)):
        rows = db.session.execute(
            select(UserRole.user_id, Role.name)
            .join(Role, Role.id == UserRole.role_id)
            .where(UserRole.user_id.in_(chunk))
        )
        for user_id, name in rows:
            found[user_id].append(name)
    return {user_id: sorted(names) for user_id, names in found.items()}


def _apply(
    action: UserAction,
    role: Role | None,
    ids: list[int],
    now: datetime,
    details: Callable[[int], dict[str, Any] | None],
) -> None:
    """Change the users ``ids`` (all known to need it) and audit each one."""
    roles_before = _roles_of(ids) if action.needs_role else {}
    bump = {"version": User.version + 1, "updated_at": now}
    for chunk in in_chunks(ids):
        db.session.execute(
            update(User).where(User.id.in_(chunk)).values(**action.values, **bump),
            execution_options={"synchronize_session": False},
        )
        if action.key == "assign_role":
            db.session.execute(
                insert(UserRole),
                [{"user_id": uid, "role_id": role.id} for uid in chunk],  # type: ignore[union-attr]
            )
        elif action.key == "remove_role":
            db.session.execute(
                delete(UserRole).where(UserRole.role_id == role.id, UserRole.user_id.in_(chunk)),  # type: ignore[union-attr]
                execution_options={"synchronize_session": False},
            )
    if action.ends_sessions:
        end_sessions_of_users(ids)
    db.session.expire_all()

    def events() -> Iterator[dict[str, Any]]:
        for uid in ids:
            if action.audit_change is not None:
                before, after = action.audit_change
            else:
                old_roles = roles_before[uid]
                new_roles = (
                    sorted([*old_roles, role.name])  # type: ignore[union-attr]
                    if action.key == "assign_role"
                    else [r for r in old_roles if r != role.name]  # type: ignore[union-attr]
                )
                before, after = {"roles": old_roles}, {"roles": new_roles}
            yield {
                "target_type": "user",
                "target_id": uid,
                "before": before,
                "after": after,
                "details": details(uid),
            }

    record_events(action.audit_action, events())


def apply_bulk(
    request: BulkRequest, *, confirmation: str, now: datetime | None = None
) -> BulkPreview:
    """Apply a bulk action in one transaction, one audit event per changed user.

    ``confirmation`` is the signed token of the confirmation the administrator saw; unless the
    users that would change now are exactly the ones it was signed for, nothing is done and
    ``StaleSelection`` (carrying a fresh confirmation) is raised.
    """
    now = now or utcnow()
    with transaction():
        action, role = _validate(request)
        guard = admin_guard() if action.guarded else None
        preview = preview_bulk(request, now)
        ids = _changing_ids(request, action, role, now)
        if action.needs_role:
            check_not_own_roles(ids, action=action.audit_action, field="role_id")
        if action.key == "assign_role":
            check_role_assignment(
                [role],  # type: ignore[list-item]
                action=action.audit_action,
                target_id=None,
                field="role_id",
            )
        if not _confirmed(request, ids, confirmation):
            raise StaleSelection(preview)
        batch = uuid.uuid4().hex
        shared = {"bulk": batch, "scope": request.scope, "matching": preview.matching}
        if request.scope == "filter":
            shared["filter"] = request.filter.describe()
        if role is not None:
            shared["role"] = role.name
        _apply(action, role, ids, now, lambda _uid: shared)
        if guard is not None:
            guard.check()
        preview.changing = len(ids)
        return preview


def apply_to_user(
    action_key: str, user_id: int, *, role_id: int | None = None, now: datetime | None = None
) -> bool:
    """One action on one user (the user page's buttons); False when nothing needed changing."""
    now = now or utcnow()
    with transaction():
        request = BulkRequest(action_key, "selected", (user_id,), role_id=role_id)
        action, role = _validate(request)
        guard = admin_guard() if action.guarded else None
        get_user(user_id)
        needed = db.session.scalar(
            select(exists().where(User.id == user_id, _change_condition(action, role)))
        )
        if not needed:
            return False
        _apply(action, role, [user_id], now, lambda _uid: None)
        if guard is not None:
            guard.check()
        return True


def changing_usernames(request: BulkRequest, limit: int, now: datetime | None = None) -> list[str]:
    """The first ``limit`` usernames (alphabetically) a bulk action would change: the
    confirmation names them, so "Disable 3 users" says which."""
    action, role = _validate(request)
    scope = _scope_conditions(request, now or utcnow())
    return list(
        db.session.scalars(
            select(User.username)
            .where(*scope, _change_condition(action, role))
            .order_by(User.username)
            .limit(limit)
        )
    )
