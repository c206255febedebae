"""Changing users: create, edit (optimistic locking), account actions and bulk actions.

Every public function here is one transaction: the change, the last-administrator check and
the audit events are committed together, or nothing is (the session is rolled back and the
error raised for the page to show).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    delete,
    exists,
    func,
    select,
)
from sqlalchemy.orm.exc import StaleDataError

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
from console.audit import changes, record_event
from console.auth.password_policy import password_problems
from console.auth.sessions import end_sessions_of_users
from console.db import db
from console.db.models import (
    AuditEvent,
    RecoveryCode,
    Role,
    User,
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


def in_chunks(ids: Sequence[int], size: int = ID_CHUNK) -> Iterator[Sequence[int]]:
    """``ids`` in slices of at most ``size`` (a bound on the SQL IN list)."""
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
