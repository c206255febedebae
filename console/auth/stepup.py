"""Step-up re-authentication: the current password, plus a current authenticator or recovery
code when two-factor is on, before an action that could take over an account or widen power.

Asked before: replacing two-factor, making new recovery codes, changing one's own password,
assigning a role that grants administrative permissions, and changing a security setting. A
confirmation (or a sign-in) is remembered in the server-side session for
``security.step_up_minutes``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, has_request_context, redirect, request, session, url_for
from flask.typing import ResponseReturnValue

from console.appsettings import get_setting
from console.audit import record_event
from console.auth import clock, lockout, totp
from console.auth.passwords import verify_password
from console.auth.redirects import safe_next_path
from console.db import db
from console.db.models import User
from console.web.htmx import from_htmx

STEP_UP_KEY = "_step_up_at"
WRONG = "The password or code is not right."


class StepUpRequired(Exception):
    """The action needs a recent confirmation of the user's password (and code)."""


def mark_confirmed() -> None:
    """Remember, in this session, that the user has just proved who they are."""
    session[STEP_UP_KEY] = clock.now().timestamp()


def is_fresh() -> bool:
    """True while the last confirmation (or sign-in) is within the step-up window."""
    if not has_request_context():
        return True  # command-line administration: the operator is at the server
    confirmed = session.get(STEP_UP_KEY)
    if not isinstance(confirmed, int | float):
        return False
    window = 60 * int(get_setting("security.step_up_minutes"))
    return 0 <= clock.now().timestamp() - confirmed < window


def require_fresh() -> None:
    """Raise ``StepUpRequired`` unless the user confirmed who they are recently."""
    if not is_fresh():
        raise StepUpRequired()


def confirm(user: User, password: str, code: str) -> bool:
    """Check the password (and the code when two-factor is on); remember success. Failures
    count towards lockout; both outcomes are audited. Commits."""
    code = (code or "").strip()
    locked = lockout.is_locked(user)
    ok = not locked and verify_password(user.password_hash, password)
    if ok and user.totp_enabled:
        ok = totp.accept_code(user, code) or totp.use_recovery_code(user, code)
    if not ok and not locked:
        lockout.register_failure(user, "step-up failed")
    record_event(
        "auth.step_up",
        outcome="success" if ok else "failure",
        target_type="user",
        target_id=user.id,
        details=None if ok else {"reason": "locked" if locked else "wrong password or code"},
    )
    db.session.commit()
    if ok:
        mark_confirmed()
    return ok


def _return_path() -> str:
    """Where to come back to: this page for a GET, else the page the form was on."""
    if request.method == "GET":
        return request.full_path.rstrip("?")
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc and referrer.netloc != request.host:
        return url_for("home.dashboard")
    path = referrer.path + (f"?{referrer.query}" if referrer.query else "")
    return safe_next_path(path or None, url_for("home.dashboard"))


def ask_to_confirm() -> ResponseReturnValue:
    """Send the user to confirm who they are, then back to where they were (nothing saved)."""
    flash("Confirm it is you before doing that. Nothing has been changed yet.", "info")
    target = url_for("auth.step_up", next=_return_path())
    if from_htmx():
        response = redirect(target)
        response.status_code = 200
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target)
