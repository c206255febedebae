"""Single sign-on routes: start, callback, back-channel logout; and, for administrators, a
user's link to the identity provider."""

from __future__ import annotations

from typing import Any

import requests
from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user

from console.admin.forms import ConfirmForm
from console.admin.services import NotFound
from console.admin.users.services import get_user
from console.appsettings import get_setting
from console.auth import services
from console.auth.redirects import safe_next_path
from console.auth.views import _after_sign_in
from console.db import db
from console.db.models import User
from console.extensions import csrf, limiter
from console.permissions import login_required_only, public, require_permission
from console.sso import accounts, admin_bp, bp, logout, provider
from console.sso import stepup as sso_stepup
from console.sso.signin import UNREACHABLE, CallbackFailed, audit_failure, exchange_code

NEXT_KEY = "_sso_next"


def _sign_in_rate_limit() -> str:
    return current_app.config["AUTH_RATE_LIMIT"]


def _idp() -> provider.OidcApp:
    idp = provider.client()
    if idp is None:
        abort(404)
    return idp


@bp.get("/login")
@public
@limiter.shared_limit(_sign_in_rate_limit, scope="sign-in", methods=["GET"])
def login() -> ResponseReturnValue:
    """Send the browser to the identity provider (authorization code with PKCE, state, nonce)."""
    idp = _idp()
    if current_user.is_authenticated:
        return redirect(url_for("home.dashboard"))
    next_path = safe_next_path(request.args.get("next"), url_for("home.dashboard"))
    try:
        response = idp.authorize_redirect(url_for("sso.callback", _external=True))
    except (provider.ProviderUnavailable, requests.RequestException) as exc:
        audit_failure(f"identity provider unreachable: {type(exc).__name__}")
        flash(UNREACHABLE, "error")
        return redirect(url_for("auth.login", next=next_path))
    session[NEXT_KEY] = next_path
    return response


@bp.get("/confirm")
@login_required_only
@limiter.shared_limit(_sign_in_rate_limit, scope="sign-in", methods=["GET"])
def confirm() -> ResponseReturnValue:
    """Step-up at the identity provider: a fresh sign-in there, then back to ``next``."""
    idp = _idp()
    user = current_user._get_current_object()
    next_path = safe_next_path(request.args.get("next"), url_for("auth.account"))
    back = url_for("auth.step_up", next=next_path)
    if sso_stepup.linked_identity(user) is None:
        flash("Your account is not linked to your organisation's sign-in.", "error")
        return redirect(back)
    try:
        response = idp.authorize_redirect(
            url_for("sso.callback", _external=True), prompt="login", max_age=0
        )
    except (provider.ProviderUnavailable, requests.RequestException) as exc:
        audit_failure(f"identity provider unreachable: {type(exc).__name__}")
        flash(UNREACHABLE, "error")
        return redirect(back)
    session[sso_stepup.FLOW_KEY] = sso_stepup.begin(user, next_path)
    return response


def _finish_step_up(idp: provider.OidcApp, flow: dict[str, Any]) -> ResponseReturnValue:
    """The provider's answer to a step-up: confirmed, or back to the step-up page."""
    user = current_user._get_current_object()
    next_path = safe_next_path(flow.get("next"), url_for("auth.account"))
    back = url_for("auth.step_up", next=next_path)
    try:
        claims = exchange_code(idp)
    except CallbackFailed as exc:
        sso_stepup.finish(user, exc.reason)
        flash(exc.message, "error")
        return redirect(back)
    if not sso_stepup.finish(user, sso_stepup.refusal(user, flow, claims)):
        flash(sso_stepup.NOT_CONFIRMED, "error")
        return redirect(back)
    return redirect(next_path)


@bp.get("/callback")
@public
@limiter.shared_limit(_sign_in_rate_limit, scope="sign-in", methods=["GET"])
def callback() -> ResponseReturnValue:
    """Validate the answer (state, code exchange, ID token) and sign the person in (or, for a
    step-up begun by ``confirm``, confirm the signed-in user)."""
    idp = _idp()
    flow = session.pop(sso_stepup.FLOW_KEY, None)
    if isinstance(flow, dict) and current_user.is_authenticated:
        return _finish_step_up(idp, flow)
    next_path = safe_next_path(session.pop(NEXT_KEY, None), url_for("home.dashboard"))
    try:
        claims = exchange_code(idp)
    except CallbackFailed as exc:
        audit_failure(exc.reason)
        flash(exc.message, "error")
        return redirect(url_for("auth.login"))
    issuer = str(claims["iss"])
    try:
        user = accounts.find_or_create_user(issuer, claims)
        accounts.apply_role_mapping(user, claims)
    except accounts.SignInRefused as exc:
        db.session.rollback()
        audit_failure(exc.reason, issuer=issuer, subject=str(claims.get("sub", ""))[:255])
        flash(exc.message, "error")
        return redirect(url_for("auth.login"))
    db.session.commit()
    reported_mfa = accounts.idp_mfa(claims)
    mfa = bool(get_setting("sso.idp_mfa_satisfies_two_factor")) and reported_mfa
    carry = {
        logout.SESSION_KEY: logout.session_marker(issuer, claims),
        services.IDP_MFA_KEY: reported_mfa,
    }
    if services.needs_second_factor(user) and not mfa:
        carry[logout.SESSION_KEY] = logout.for_a_cookie(carry[logout.SESSION_KEY])
        services.begin_second_factor(user, next_path, first_step="single sign-on", carry=carry)
        return redirect(url_for("auth.login_code"))
    services.complete_sign_in(
        user, "single sign-on with MFA" if mfa else "single sign-on", carry=carry
    )
    return _after_sign_in(next_path)


def end_session_url() -> str | None:
    """Where to send the browser after the console session of an SSO sign-in ends: the
    provider's ``end_session_endpoint`` (RP-initiated logout), or None. Read before sign-out."""
    marker = session.get(logout.SESSION_KEY)
    idp = provider.client()
    if idp is None or not isinstance(marker, dict):
        return None
    try:
        if "end_session_endpoint" not in provider.metadata(idp):
            return None
        result = idp.create_logout_url(
            post_logout_redirect_uri=url_for("auth.login", _external=True),
            id_token_hint=marker.get("id_token") or None,
            client_id=idp.client_id,
        )
    except (provider.ProviderUnavailable, RuntimeError):
        return None
    return str(result["url"])


@bp.post("/backchannel-logout")
@public
@csrf.exempt
@limiter.limit(_sign_in_rate_limit)
def backchannel_logout() -> ResponseReturnValue:
    """OpenID Connect Back-Channel Logout: authenticated by the signed logout token alone."""
    idp = _idp()
    token = request.form.get("logout_token", "")
    answer = current_app.response_class(status=200)
    answer.headers["Cache-Control"] = "no-store"
    try:
        if not token:
            raise logout.InvalidLogoutToken("no logout_token")
        claims = logout.validate_logout_token(idp, token)
        logout.remember_token(str(claims["iss"]), claims)
    except (logout.InvalidLogoutToken, provider.ProviderUnavailable, ValueError) as exc:
        audit_failure(f"logout token refused: {exc}"[:300], kind="back-channel logout")
        answer.status_code = 400
        answer.set_data('{"error": "invalid_request"}')
        answer.mimetype = "application/json"
        return answer
    logout.end_matching_sessions(str(claims["iss"]), claims)
    db.session.commit()
    return answer


# --- administration -----------------------------------------------------------------------


def _user_or_404(user_id: int) -> User:
    try:
        return get_user(user_id)
    except NotFound:
        abort(404)


NOT_SET_UP = (
    "Single sign-on is not set up on this console (no identity provider), so there is nothing "
    "to link to; this user signs in with a password."
)


def _link_page(user: User, status: int = 200, **extra: Any) -> ResponseReturnValue:
    return render_template(
        "sso/user_sign_in.html",
        user=user,
        identity=accounts.identity_of(user.id),
        issuer=current_app.config["SETTINGS"].OIDC_ISSUER,
        not_set_up=NOT_SET_UP,
        form=ConfirmForm(),
        **extra,
    ), status


@admin_bp.get("/<int:user_id>/sign-in")
@require_permission("users.manage")
def user_sign_in(user_id: int) -> ResponseReturnValue:
    """How the user signs in, and their link to the identity provider."""
    return _link_page(_user_or_404(user_id))


@admin_bp.post("/<int:user_id>/sign-in")
@require_permission("users.manage")
def user_sign_in_change(user_id: int) -> ResponseReturnValue:
    """Link the user to an identity, pre-approve an e-mail link, or remove either."""
    user = _user_or_404(user_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    issuer = current_app.config["SETTINGS"].OIDC_ISSUER
    if not issuer:
        return _link_page(user, 409, error=NOT_SET_UP)
    action = request.form.get("action", "")
    subject = request.form.get("subject", "").strip()
    error = None
    try:
        if action == "link":
            if not subject or len(subject) > 255 or not subject.isprintable():
                error = "Enter the identity's subject (sub), 1 to 255 printable characters."
            else:
                accounts.link(user, issuer, subject, current_user.id)
        elif action == "pre-approve":
            accounts.pre_approve(user, issuer, current_user.id)
        elif action == "unlink":
            if not accounts.unlink(user):
                error = "The user has no link to remove."
        else:
            abort(400)
    except ValueError as exc:
        error = str(exc)
    if error:
        db.session.rollback()
        return _link_page(user, 400, error=error, subject=subject)
    db.session.commit()
    flash("The sign-in link has been saved.", "success")
    return redirect(url_for("sso_admin.user_sign_in", user_id=user.id))
