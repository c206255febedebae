"""Changing users: create, edit (optimistic locking), account actions and bulk actions.

Every public function here is one transaction: the change, the last-administrator check and
the audit events are committed together, or nothing is (the session is rolled back and the
error raised for the page to show).
"""

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
    and_,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.orm.exc import StaleDataError

from console.admin.audit.batch import record_events
from console.admin.privileges import check_not_own_roles, check_role_assignment
from console.admin.services import (
    AdminActionError,
    EditConflict,
    FieldErrors,
    NotFound,
    transaction,
)
from console.admin.users.accounts import (
    HIDDEN_CHARACTERS_MESSAGE,
    AccountError,
    create_user,
    has_hidden_characters,
    normalise_email,
    reset_password,
    temporary_password,
)
from console.admin.users.guards import admin_guard
from console.admin.users.listing import UserFilter, filter_conditions
from console.audit import changes, record_event
from console.auth.password_policy import password_problems
from console.auth.sessions import end_sessions_of_users
from console.db import db
from console.db.models import (
    AuditEvent,
    RecoveryCode,
    Role,
    User,
    UserRole,
    utcnow,
)

ID_CHUNK = 500


def conflict_details(
    user: User, original: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, tuple[Any, Any]]]:
    """The user as saved now, and each field the other person changed as (was, now)."""
    current = snapshot(user)
    theirs = {
        key: (original.get(key), value)
        for key, value in current.items()
        if key in original and original[key] != value
    }
    return current, theirs


def _chunks(ids: Sequence[int], size: int = ID_CHUNK) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def get_user(user_id: int) -> User:
    """The user, or ``NotFound``."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("There is no such user; they may have been deleted.")
    return user


def snapshot(user: User) -> dict[str, Any]:
    """The editable fields of a user as plain values (for conflicts and audit diffs)."""
    return {
        "full_name": user.full_name,
        "email": user.email,
        "roles": sorted(role.name for role in user.roles),
        "active": user.active,
    }


def _roles_by_id(role_ids: Sequence[int]) -> list[Role]:
    roles = list(db.session.scalars(select(Role).where(Role.id.in_(role_ids)))) if role_ids else []
    if len(roles) != len(set(role_ids)):
        raise FieldErrors({"roles": "One of the chosen roles no longer exists; choose again."})
    return roles


# --- create -------------------------------------------------------------------------------


@dataclass
class CreatedUser:
    """A new user and the temporary password to show once (None when the admin typed one)."""

    user_id: int
    username: str
    generated_password: str | None


def create_account(
    *,
    username: str,
    email: str,
    full_name: str,
    role_ids: Sequence[int],
    password: str | None,
) -> CreatedUser:
    """Create a user who must change the password at first sign-in; ``password=None`` generates one."""
    with transaction():
        roles = _roles_by_id(role_ids)
        check_role_assignment(roles, action="user.create", target_id=None)
        generated = None
        if password is None:
            generated = password = temporary_password(username.strip().lower(), email)
        else:
            problems = password_problems(password, username=username.strip().lower(), email=email)
            if problems:
                raise FieldErrors({"password": " ".join(problems)})
        try:
            user = create_user(
                username=username,
                email=email,
                full_name=full_name,
                password=password,
                role_names=[role.name for role in roles],
                must_change_password=True,
            )
        except AccountError as exc:
            raise FieldErrors({exc.field or "username": str(exc)}) from None
        return CreatedUser(user.id, user.username, generated)


# --- edit ---------------------------------------------------------------------------------


@dataclass
class UpdateResult:
    """What an edit changed (empty when the form matched the saved user)."""

    changed: dict[str, Any] = field(default_factory=dict)
    sessions_ended: int = 0


def update_account(
    user_id: int,
    *,
    expected_version: int,
    original: dict[str, Any] | None = None,
    full_name: str,
    email: str,
    role_ids: Sequence[int],
    active: bool,
) -> UpdateResult:
    """Save an edit made on a form opened at ``expected_version`` showing ``original``.

    When the user has been saved since and any field the form edits is no longer what the form
    showed, raise ``EditConflict`` and write nothing; ``conflict_details`` then tells the page
    what the other person changed. (A newer version whose editable fields are unchanged, e.g.
    after the user merely signed in, is not a conflict.)
    """
    with transaction():
        guard = admin_guard()
        user = get_user(user_id)
        if user.version != expected_version and (not original or snapshot(user) != original):
            raise EditConflict()
        if has_hidden_characters(full_name):
            raise FieldErrors({"full_name": HIDDEN_CHARACTERS_MESSAGE})
        try:
            email = normalise_email(email)
        except AccountError as exc:
            raise FieldErrors({"email": str(exc)}) from None
        taken = db.session.scalar(
            select(func.count()).where(User.email == email, User.id != user.id)
        )
        if taken:
            raise FieldErrors(
                {"email": f"The e-mail address {email} is already used by another user."}
            )
        roles = _roles_by_id(role_ids)
        before = snapshot(user)
        after = {
            "full_name": full_name.strip(),
            "email": email,
            "roles": sorted(role.name for role in roles),
            "active": active,
        }
        old, new = changes(before, after)
        if not new:
            return UpdateResult()
        if "roles" in new:
            check_not_own_roles([user.id], action="user.update")
            held = {role.id for role in user.roles}
            check_role_assignment(
                [role for role in roles if role.id not in held],
                action="user.update",
                target_id=user.id,
            )
        user.full_name = after["full_name"]
        user.email = email
        user.roles = sorted(roles, key=lambda role: role.name)
        user.active = active
        user.updated_at = utcnow()  # always UPDATE the row, so the version moves on
        ended = end_sessions_of_users([user.id]) if before["active"] and not active else 0
        try:
            guard.check()
        except StaleDataError:
            raise EditConflict() from None
        details = {"sessions_ended": ended} if ended else None
        record_event(
            "user.update",
            target_type="user",
            target_id=user.id,
            before=old,
            after=new,
            details=details,
        )
        return UpdateResult(changed=new, sessions_ended=ended)


# --- account actions ----------------------------------------------------------------------


def reset_account_password(user_id: int, password: str | None) -> str | None:
    """Set a new password the user must change at next sign-in and end their sessions.

    Returns the generated password (to show once), or None when the administrator typed one.
    """
    with transaction():
        user = get_user(user_id)
        generated = None
        if password is None:
            generated = password = temporary_password(user.username, user.email)
        else:
            problems = password_problems(password, username=user.username, email=user.email)
            if problems:
                raise FieldErrors({"password": " ".join(problems)})
        reset_password(user, password, must_change=True, audit_action="user.password_reset")
        end_sessions_of_users([user.id])
        return generated


def reset_two_factor(user_id: int) -> bool:
    """Remove the user's authenticator and recovery codes; False when they had none."""
    with transaction():
        user = get_user(user_id)
        codes = db.session.scalar(
            select(func.count()).select_from(RecoveryCode).where(RecoveryCode.user_id == user.id)
        )
        if not user.totp_enabled and not user.totp_secret and not codes:
            return False
        before = {"totp_enabled": user.totp_enabled, "recovery_codes": codes}
        user.totp_enabled = False
        user.totp_secret = None
        user.totp_last_used_step = None
        db.session.execute(
            delete(RecoveryCode).where(RecoveryCode.user_id == user.id),
            execution_options={"synchronize_session": False},
        )
        db.session.flush()
        record_event(
            "user.totp_reset",
            target_type="user",
            target_id=user.id,
            before=before,
            after={"totp_enabled": False, "recovery_codes": 0},
        )
        return True


def end_account_sessions(user_id: int) -> int:
    """End every session of the user (they must sign in again); how many were ended."""
    with transaction():
        user = get_user(user_id)
        ended = end_sessions_of_users([user.id])
        if ended:
            record_event(
                "user.sessions_end", target_type="user", target_id=user.id, details={"count": ended}
            )
        return ended


def delete_account(user_id: int) -> str:
    """Delete a never-used account (never signed in, no audit history as actor); its username."""
    with transaction():
        guard = admin_guard()
        user = get_user(user_id)
        if user.last_sign_in_at is not None:
            raise AdminActionError(
                "This user has signed in before, so the account is kept for the audit trail. "
                "Disable it instead."
            )
        acted = db.session.scalar(select(exists().where(AuditEvent.actor_id == user.id)))
        if acted:
            raise AdminActionError(
                "This user appears in the audit trail as the person who did something, so the "
                "account is kept. Disable it instead."
            )
        before = snapshot(user) | {"username": user.username}
        db.session.delete(user)
        guard.check()
        record_event("user.delete", target_type="user", target_id=user_id, before=before)
        return before["username"]


# --- actions over many users (one user, a selection, or everything a filter matches) ------


@dataclass(frozen=True)
class Action:
    """A bulk-capable action: what it changes and how it is audited."""

    key: str
    label: str
    audit_action: str
    needs_role: bool = False
    guarded: bool = False
    ends_sessions: bool = False


ACTIONS: dict[str, Action] = {
    a.key: a
    for a in (
        Action("disable", "Disable", "user.disable", guarded=True, ends_sessions=True),
        Action("enable", "Enable", "user.enable"),
        Action("unlock", "Unlock", "user.unlock"),
        Action(
            "require_password_change",
            "Require password change",
            "user.password_change_required",
        ),
        Action("require_totp", "Require two-factor set-up", "user.totp_required"),
        Action(
            "withdraw_totp",
            "Withdraw the two-factor set-up requirement",
            "user.totp_requirement_withdrawn",
        ),
        Action("assign_role", "Assign role", "user.role_assign", needs_role=True),
        Action(
            "remove_role",
            "Remove role",
            "user.role_remove",
            needs_role=True,
            guarded=True,
        ),
    )
}
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
    action: Action
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


def _validate(request: BulkRequest) -> tuple[Action, Role | None]:
    action = ACTIONS.get(request.action)
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


def _change_condition(action: Action, role: Role | None) -> ColumnElement[bool]:
    """Users the action would actually change (the others already are as asked)."""
    if action.key == "disable":
        return User.active.is_(true())
    if action.key == "enable":
        return User.active.is_not(true())
    if action.key == "unlock":
        return or_(
            User.locked_until.is_not(None),
            User.failed_login_count > 0,
            User.last_failed_login_at.is_not(None),
        )
    if action.key == "require_password_change":
        return User.must_change_password.is_not(true())
    if action.key == "require_totp":  # users who already have an authenticator need nothing
        return and_(User.must_enrol_totp.is_not(true()), User.totp_enabled.is_not(true()))
    if action.key == "withdraw_totp":
        return User.must_enrol_totp.is_(true())
    member = exists().where(UserRole.user_id == User.id, UserRole.role_id == role.id)  # type: ignore[union-attr]
    return ~member if action.key == "assign_role" else member


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
    request: BulkRequest, action: Action, role: Role | None, now: datetime
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
    for chunk in _chunks(list(user_ids)):
        rows = db.session.execute(
            select(UserRole.user_id, Role.name)
            .join(Role, Role.id == UserRole.role_id)
            .where(UserRole.user_id.in_(chunk))
        )
        for user_id, name in rows:
            found[user_id].append(name)
    return {user_id: sorted(names) for user_id, names in found.items()}


def _apply(
    action: Action,
    role: Role | None,
    ids: list[int],
    now: datetime,
    details: Callable[[int], dict[str, Any] | None],
) -> None:
    """Change the users ``ids`` (all known to need it) and audit each one."""
    roles_before = _roles_of(ids) if action.needs_role else {}
    bump = {"version": User.version + 1, "updated_at": now}
    values: dict[str, Any] = {}
    if action.key == "disable":
        values = {"active": False}
    elif action.key == "enable":
        values = {"active": True}
    elif action.key == "unlock":
        values = {"failed_login_count": 0, "locked_until": None, "last_failed_login_at": None}
    elif action.key == "require_password_change":
        values = {"must_change_password": True}
    elif action.key == "require_totp":
        values = {"must_enrol_totp": True}
    elif action.key == "withdraw_totp":
        values = {"must_enrol_totp": False}
    for chunk in _chunks(ids):
        db.session.execute(
            update(User).where(User.id.in_(chunk)).values(**values, **bump),
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
            if action.needs_role:
                old_roles = roles_before[uid]
                new_roles = (
                    sorted([*old_roles, role.name])  # type: ignore[union-attr]
                    if action.key == "assign_role"
                    else [r for r in old_roles if r != role.name]  # type: ignore[union-attr]
                )
                before, after = {"roles": old_roles}, {"roles": new_roles}
            elif action.key == "unlock":
                before, after = {"locked": True}, {"locked": False}
            elif action.key == "require_password_change":
                before, after = {"must_change_password": False}, {"must_change_password": True}
            elif action.key == "require_totp":
                before, after = {"must_enrol_totp": False}, {"must_enrol_totp": True}
            elif action.key == "withdraw_totp":
                before, after = {"must_enrol_totp": True}, {"must_enrol_totp": False}
            else:
                enabled = action.key == "enable"
                before, after = {"active": not enabled}, {"active": enabled}
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
