"""Required actions: a user who must change their password or set up two-factor can reach
nothing else (except signing out, public pages and static files) until it is done."""

from __future__ import annotations

from flask import current_app, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from console.auth.services import required_totp_enrolment
from console.db.models import User
from console.permissions import PUBLIC, declared_permission
from console.web.htmx import from_htmx

CHANGE_PASSWORD = "change_password"  # noqa: S105 (an action name)
ENROL_TOTP = "enrol_totp"

ACTION_ENDPOINTS: dict[str, str] = {
    CHANGE_PASSWORD: "auth.change_password",
    ENROL_TOTP: "auth.totp_enrol",
}
ALLOWED_ENDPOINTS: dict[str, frozenset[str]] = {
    CHANGE_PASSWORD: frozenset({"auth.change_password", "auth.logout"}),
    ENROL_TOTP: frozenset({"auth.totp_enrol", "auth.totp_qr", "auth.logout"}),
}


def pending_action(user: User) -> str | None:
    """The first action the user must complete, or None."""
    if user.must_change_password:
        return CHANGE_PASSWORD
    if required_totp_enrolment(user):
        return ENROL_TOTP
    return None


def enforce_required_actions() -> ResponseReturnValue | None:
    """``before_request`` hook: send a user with a pending action to its page."""
    endpoint = request.endpoint
    if endpoint is None or declared_permission(endpoint) == PUBLIC:
        return None
    if not current_user.is_authenticated:
        return None
    action = pending_action(current_user)
    if action is None or endpoint in ALLOWED_ENDPOINTS[action]:
        return None
    wanted = request.full_path.rstrip("?") if request.method == "GET" else None
    target = url_for(ACTION_ENDPOINTS[action], next=wanted)
    if from_htmx():
        response = current_app.response_class(status=403)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target)
