"""Sessions: who is signed in where; end one session or all of a user's."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue

from console.admin import bp
from console.admin.forms import ConfirmForm
from console.admin.services import NotFound
from console.admin.sessions import services as session_service
from console.admin.users import services as user_service
from console.auth.sessions import current_session_id
from console.db.models import utcnow
from console.permissions import require_permission
from console.web.htmx import page_or_fragment
from console.web.query import parse_id


@bp.get("/sessions")
@require_permission("sessions.manage")
def sessions() -> ResponseReturnValue:
    """Live sessions across the console, most recently used first; filter by user."""
    view = session_service.parse_filter(request.args)
    result = session_service.list_sessions(view)
    return page_or_fragment(
        "admin/sessions.html",
        "admin/_sessions_oob.html",
        view=view,
        result=result,
        own_session=current_session_id(),
        now=utcnow(),
    )


def _back() -> str:
    user = (request.form.get("user") or "").strip()
    return url_for("admin.sessions", **({"user": user} if user else {}))


@bp.post("/sessions/end")
@require_permission("sessions.manage")
def session_end() -> ResponseReturnValue:
    """End one session."""
    if not ConfirmForm().validate_on_submit():
        return redirect(_back())
    try:
        user = session_service.end_session(request.form.get("session", ""))
    except NotFound as exc:
        flash(str(exc), "info")
    else:
        flash(f"Ended a session of {user.username}.", "success")
    return redirect(_back())


@bp.post("/sessions/end-user")
@require_permission("sessions.manage")
def session_end_user() -> ResponseReturnValue:
    """End every session of one user."""
    user_id = parse_id(request.form.get("user_id"))
    if not ConfirmForm().validate_on_submit() or user_id is None:
        return redirect(_back())
    try:
        user = user_service.get_user(user_id)
        ended = user_service.end_account_sessions(user.id)
    except NotFound as exc:
        flash(str(exc), "info")
        return redirect(_back())
    noun = "session" if ended == 1 else "sessions"
    flash(f"Ended {ended} {noun} of {user.username}.", "success" if ended else "info")
    return redirect(_back())
