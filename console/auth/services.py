"""Sign-in, the second factor, sign-out and password changes: checks, lockout and audit.

Routes call these; each commits what it must keep even when the response is an error page
(failed attempts and lockouts are recorded although the form answers 400).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import has_request_context, session
from flask_login import login_user, logout_user
from sqlalchemy import select

from console.appsettings import get_setting
from console.audit import record_event
from console.auth import clock, lockout, sessions, stepup, totp
from console.auth.password_policy import password_problems
from console.auth.passwords import hash_password, needs_rehash, verify_password
from console.db import db
from console.db.models import User
from console.permissions import ADMIN_PERMISSIONS

INVALID_CREDENTIALS = "The username or password is not right."
INVALID_CODE = "The code is not right. Enter the current code from your authenticator app."
UNKNOWN_ACCOUNT = "unknown account"
PENDING_KEY = "_pending_sign_in"
PENDING_LIFETIME = timedelta(minutes=5)
IDP_MFA_KEY = "_idp_mfa"
"""Session key: the identity provider reported a multi-factor sign-in for this session."""


def find_user(username: str) -> User | None:
    """The user with this username, whatever its case."""
    return db.session.scalar(select(User).where(User.username == username.strip().lower()))


def _fail(user: User | None, username: str, reason: str, *, count: bool) -> None:
    """Record a failed attempt (and count it towards lockout); commits."""
    if user is not None and count:
        lockout.register_failure(user, reason)
    from console.admin.users.accounts import is_username_shaped  # (accounts imports this module)

    typed = username.strip().lower()
    # A password typed into the username box must not become readable to auditors: an unknown
    # name is recorded only when it is shaped like a username.
    shown = typed if user is not None or is_username_shaped(typed) else UNKNOWN_ACCOUNT
    record_event(
        "auth.sign_in",
        outcome="failure",
        target_type="user",
        target_id=user.id if user else None,
        details={"username": shown, "reason": reason},
    )
    db.session.commit()


def authenticate(username: str, password: str) -> User | None:
    """The first step: the user when the password is right and the account may sign in now.

    The password is always checked against a hash (a dummy one for unknown usernames), so the
    answer takes as long whether or not the username exists. A locked or disabled account gets
    the same answer as a wrong password. Failures are audited and counted towards lockout; a
    right password alone does not clear earlier failures when a second factor is still due.
    """
    user = find_user(username)
    password_ok = verify_password(user.password_hash if user else None, password)
    if user is None:
        _fail(None, username, "unknown user", count=False)
        return None
    if lockout.is_locked(user):
        _fail(user, username, "locked", count=False)
        return None
    if not password_ok:
        _fail(user, username, "wrong password", count=True)
        return None
    if not user.active:
        _fail(user, username, "disabled", count=False)
        return None
    if temporary_password_expired(user):
        _fail(user, username, "temporary password expired", count=False)
        raise TemporaryPasswordExpired()
    from console.sso.accounts import password_sign_in_refused

    if password_sign_in_refused(user):
        _fail(user, username, "single sign-on only", count=False)
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        db.session.commit()
    return user


class TemporaryPasswordExpired(Exception):
    """The right temporary password, but past its time: the user needs a new one."""

    message = "Your temporary password has expired. Ask an administrator to set a new one for you."


def temporary_password_expired(user: User) -> bool:
    """True when the user's password is an administrator's temporary one past its time."""
    set_at = user.temporary_password_set_at
    if set_at is None or not user.must_change_password:
        return False
    lifetime = timedelta(minutes=int(get_setting("security.temporary_password_minutes")))
    return clock.now() - set_at >= lifetime


def needs_second_factor(user: User) -> bool:
    """True when the user signs in with a code from an authenticator app as well."""
    return bool(user.totp_enabled and user.totp_secret)


@dataclass(frozen=True)
class PendingSignIn:
    """A sign-in that passed its first step and waits for the code."""

    user: User
    next_path: str
    first_step: str
    """How the first step was passed: ``"password"`` or ``"single sign-on"``."""
    carry: dict[str, Any]
    """Session data the signed-in session starts with (e.g. the identity provider's session)."""

    def method(self, second_step: str) -> str:
        """The audit log's words for the whole sign-in."""
        if self.first_step == "password":
            return second_step
        return f"{self.first_step} and {second_step}"


def begin_second_factor(
    user: User,
    next_path: str,
    *,
    first_step: str = "password",
    carry: Mapping[str, Any] | None = None,
) -> None:
    """Remember, in the (still anonymous) session, who passed the first step, how and when, and
    what the signed-in session is to start with (``carry``, JSON-serialisable)."""
    session[PENDING_KEY] = {
        "user_id": user.id,
        "at": clock.now().timestamp(),
        "next": next_path,
        "first_step": first_step,
        "carry": dict(carry or {}),
    }


def pending_second_factor() -> PendingSignIn | None:
    """The sign-in waiting for its code, while the step is fresh."""
    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict):
        return None
    started = pending.get("at")
    if not isinstance(started, int | float) or clock.now().timestamp() - started > (
        PENDING_LIFETIME.total_seconds()
    ):
        session.pop(PENDING_KEY, None)
        return None
    user = db.session.get(User, pending.get("user_id"))
    if user is None or not user.active or not needs_second_factor(user):
        session.pop(PENDING_KEY, None)
        return None
    carry = pending.get("carry")
    return PendingSignIn(
        user=user,
        next_path=str(pending.get("next") or "/"),
        first_step=str(pending.get("first_step") or "password"),
        carry=dict(carry) if isinstance(carry, dict) else {},
    )


def cancel_second_factor() -> None:
    """Forget a pending sign-in."""
    session.pop(PENDING_KEY, None)


def verify_second_factor(user: User, code: str) -> str | None:
    """The method used (``"totp"`` or ``"recovery code"``) when ``code`` is right, else None.

    A wrong or missing code counts as a failed sign-in; while the account is locked even a right
    code is refused (and not counted).
    """
    code = (code or "").strip()
    if lockout.is_locked(user):
        _fail(user, user.username, "locked", count=False)
        return None
    if not code:
        _fail(user, user.username, "missing code", count=True)
        return None
    if totp.accept_code(user, code):
        return "totp"
    if totp.use_recovery_code(user, code):
        return "recovery code"
    _fail(user, user.username, "wrong code", count=True)
    return None


def complete_sign_in(user: User, method: str, carry: Mapping[str, Any] | None = None) -> None:
    """Sign the user in: clear failures, audit, start a session with a new id and CSRF token
    that holds ``carry`` (what the first step learnt, e.g. the identity provider's session)."""
    lockout.register_success(user)
    user.last_sign_in_at = clock.now()
    record_event(
        "auth.sign_in",
        target_type="user",
        target_id=user.id,
        actor=user,
        details={"method": method},
    )
    db.session.commit()
    sessions.start_signed_in_session(user)
    session.update(carry or {})
    login_user(user)
    sessions.mark_credentials(user)
    stepup.mark_confirmed()  # a sign-in a moment ago counts as a confirmation


def sign_out(user: User) -> None:
    """Audit the sign-out, end the session's row and sign the user out of this request."""
    record_event("auth.sign_out", target_type="user", target_id=user.id, actor=user)
    db.session.commit()
    logout_user()
    sessions.sign_out_session()


def idp_mfa_counts() -> bool:
    """True when this request's session began with a multi-factor sign-in at the identity
    provider and the settings accept that as the console's two-factor."""
    return (
        has_request_context()
        and session.get(IDP_MFA_KEY) is True
        and bool(get_setting("sso.idp_mfa_satisfies_two_factor"))
    )


def required_totp_enrolment(user: User) -> bool:
    """True when the user must set up two-factor before doing anything else: never while the
    identity provider's MFA counts as two-factor for the session (``idp_mfa_counts``)."""
    if needs_second_factor(user) or idp_mfa_counts():
        return False
    if user.must_enrol_totp:
        return True
    return bool(get_setting("security.require_totp_for_admins")) and bool(
        user.permissions & ADMIN_PERMISSIONS
    )


@dataclass
class PasswordChangeResult:
    """The outcome of a password change: problems for the form, or none when it was changed."""

    current_password_errors: list[str]
    new_password_errors: list[str]

    @property
    def ok(self) -> bool:
        """True when the password was changed."""
        return not self.current_password_errors and not self.new_password_errors


def change_password(
    user: User, current_password: str | None, new_password: str
) -> PasswordChangeResult:
    """Change the signed-in user's own password.

    ``current_password`` is required except for the "must change password" action right after
    sign-in (pass None). A wrong current password counts towards lockout. The new password must
    pass the policy and differ from the current one. On success every other session of the user
    ends and this session gets a new id. Audited; commits.
    """
    if current_password is not None and (
        lockout.is_locked(user) or not verify_password(user.password_hash, current_password)
    ):
        if not lockout.is_locked(user):
            lockout.register_failure(user, "wrong current password")
        record_event(
            "auth.password_change",
            outcome="failure",
            target_type="user",
            target_id=user.id,
            details={"reason": "wrong current password"},
        )
        db.session.commit()
        return PasswordChangeResult(["Your current password is not right."], [])
    problems = password_problems(new_password, username=user.username, email=user.email)
    if not problems and verify_password(user.password_hash, new_password):
        problems = ["Choose a new password that is different from your current one."]
    if problems:
        return PasswordChangeResult([], problems)
    forced = user.must_change_password
    user.password_hash = hash_password(new_password)
    user.password_changed_at = clock.now()
    user.must_change_password = False
    user.temporary_password_set_at = None
    ended = sessions.end_user_sessions(
        user.id, keep_session_id=sessions.current_session_id(), ended_by="yourself"
    )
    record_event(
        "auth.password_change",
        target_type="user",
        target_id=user.id,
        details={"required_action": forced, "other_sessions_ended": ended},
    )
    db.session.commit()
    sessions.rotate_session()
    sessions.mark_credentials(user)
    return PasswordChangeResult([], [])


def enrol_totp(user: User, secret: str, code: str) -> list[str] | None:
    """Turn on (or move) two-factor when the code matches; other sessions end and this one gets a
    new id. Returns the recovery codes to show once, or None when the code is wrong. Commits."""
    codes = totp.enable(user, secret, code)
    if codes is None:
        return None
    sessions.end_user_sessions(
        user.id, keep_session_id=sessions.current_session_id(), ended_by="yourself"
    )
    db.session.commit()
    sessions.rotate_session()
    return codes


def regenerate_recovery_codes(user: User, code: str) -> list[str] | None:
    """New recovery codes when ``code`` is a current authenticator code; None otherwise. Commits."""
    if not totp.accept_code(user, code):
        db.session.commit()
        return None
    codes = totp.replace_recovery_codes(user)
    record_event("auth.recovery_codes_replaced", target_type="user", target_id=user.id)
    db.session.commit()
    return codes
