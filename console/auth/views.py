"""Sign-in (password, then a code when two-factor is on), sign-out, and the user's own account:
sessions, password change and two-factor set-up."""

from __future__ import annotations

from flask import (
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user

from console.appsettings import get_setting
from console.audit import record_event
from console.auth import bp, services, sessions, stepup, totp
from console.auth.forms import (
    ChangePasswordForm,
    CodeForm,
    LoginForm,
    SecondFactorForm,
    StepUpForm,
)
from console.auth.redirects import safe_next_path
from console.auth.required_actions import ACTION_ENDPOINTS, pending_action
from console.db import db
from console.extensions import limiter
from console.permissions import login_required_only, public

ENROL_SECRET_KEY = "_totp_enrol_secret"  # noqa: S105 (a session key name)


def _sign_in_rate_limit() -> str:
    return current_app.config["AUTH_RATE_LIMIT"]


def _status(
    form: LoginForm | SecondFactorForm | ChangePasswordForm | CodeForm | StepUpForm, ok: bool
) -> int:
    return 200 if ok or not form.is_submitted() else 400


def _after_sign_in(next_path: str) -> ResponseReturnValue:
    action = pending_action(current_user)
    if action is not None:
        return redirect(url_for(ACTION_ENDPOINTS[action], next=next_path))
    return redirect(next_path)


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.shared_limit(_sign_in_rate_limit, scope="sign-in", methods=["POST"])
def login() -> ResponseReturnValue:
    """Show the sign-in form; check the password; go on to the code step when two-factor is on."""
    next_path = safe_next_path(request.args.get("next"), url_for("home.dashboard"))
    if current_user.is_authenticated:
        return redirect(next_path)
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = services.authenticate(form.username.data or "", form.password.data or "")
        except services.TemporaryPasswordExpired as exc:
            form.form_errors.append(exc.message)
            user = None
        else:
            if user is None:
                form.form_errors.append(services.INVALID_CREDENTIALS)
        if user is not None:
            if services.needs_second_factor(user):
                services.begin_second_factor(user, next_path)
                return redirect(url_for("auth.login_code"))
            services.complete_sign_in(user, "password")
            return _after_sign_in(next_path)
    ok = not form.errors and not form.form_errors
    return render_template("auth/login.html", form=form, next_path=next_path), _status(form, ok)


@bp.route("/login/code", methods=["GET", "POST"])
@public
@limiter.shared_limit(_sign_in_rate_limit, scope="sign-in", methods=["POST"])
def login_code() -> ResponseReturnValue:
    """The second step: a code from the authenticator app, or a recovery code."""
    if current_user.is_authenticated:
        return redirect(url_for("home.dashboard"))
    pending = services.pending_second_factor()
    if pending is None:
        flash("Sign in again to continue.", "info")
        return redirect(url_for("auth.login"))
    user = pending.user
    form = SecondFactorForm()
    if form.validate_on_submit():
        method = services.verify_second_factor(user, form.code.data or "")
        if method is not None:
            services.complete_sign_in(user, pending.method(method), pending.carry)
            if method == "recovery code":
                remaining = totp.remaining_recovery_codes(user)
                flash(
                    f"You signed in with a recovery code; {remaining} unused "
                    f"{'code is' if remaining == 1 else 'codes are'} left. "
                    "Make new ones from Your account if you are running low.",
                    "info",
                )
            return _after_sign_in(pending.next_path)
        form.form_errors.append(services.INVALID_CODE)
    ok = not form.errors and not form.form_errors
    return render_template("auth/login_code.html", form=form), _status(form, ok)


@bp.route("/login/cancel", methods=["POST"])
@public
def cancel_login() -> ResponseReturnValue:
    """Abandon a sign-in waiting for its code."""
    services.cancel_second_factor()
    return redirect(url_for("auth.login"))


@bp.route("/logout", methods=["POST"])
@login_required_only
def logout() -> ResponseReturnValue:
    """Sign out (POST only, with CSRF): the session's record is deleted, so the cookie is dead;
    a single sign-on session goes on to sign out at the identity provider too."""
    from console.sso.views import end_session_url

    at_provider = end_session_url()
    services.sign_out(current_user._get_current_object())
    flash("You have signed out.", "info")
    return redirect(at_provider or url_for("auth.login"))


@bp.post("/session/keep-alive")
@login_required_only
def keep_alive() -> ResponseReturnValue:
    """ "Stay signed in": the idle timeout starts again; answers how long the session has left."""
    return jsonify(expires_in=sessions.keep_alive())


@bp.route("/account")
@login_required_only
def account() -> ResponseReturnValue:
    """The signed-in user's account: sessions, password and two-factor."""
    user = current_user._get_current_object()
    return render_template(
        "auth/account.html",
        user=user,
        sessions=sessions.list_sessions(user.id),
        current_session_id=sessions.current_session_id(),
        recovery_codes_left=totp.remaining_recovery_codes(user) if user.totp_enabled else 0,
        code_form=CodeForm(),
    )


@bp.route("/account/sessions/<session_id>/end", methods=["POST"])
@login_required_only
def end_session(session_id: str) -> ResponseReturnValue:
    """End one of the user's other sessions."""
    if session_id == sessions.current_session_id():
        flash("This is the session you are using now; sign out to end it.", "info")
        return redirect(url_for("auth.account"))
    if not sessions.end_session(session_id, user_id=current_user.id, ended_by="yourself"):
        abort(404)
    record_event(
        "auth.session_ended",
        target_type="user",
        target_id=current_user.id,
        details={"reason": "ended by the user"},
    )
    db.session.commit()
    flash("The session has ended.", "success")
    return redirect(url_for("auth.account"))


@bp.route("/account/sessions/end-others", methods=["POST"])
@login_required_only
def end_other_sessions() -> ResponseReturnValue:
    """End every session of the user but this one."""
    ended = sessions.end_user_sessions(
        current_user.id, keep_session_id=sessions.current_session_id(), ended_by="yourself"
    )
    record_event(
        "auth.session_ended",
        target_type="user",
        target_id=current_user.id,
        details={"reason": "ended by the user", "count": ended},
    )
    db.session.commit()
    flash(f"{ended} other {'session has' if ended == 1 else 'sessions have'} ended.", "success")
    return redirect(url_for("auth.account"))


@bp.route("/confirm", methods=["GET", "POST"])
@login_required_only
@limiter.limit(_sign_in_rate_limit, methods=["POST"])
def step_up() -> ResponseReturnValue:
    """Confirm it is you (password, and a code when two-factor is on), then go back."""
    user = current_user._get_current_object()
    next_path = safe_next_path(request.args.get("next"), url_for("auth.account"))
    form = StepUpForm()
    if form.validate_on_submit():
        if stepup.confirm(user, form.password.data or "", form.code.data or ""):
            return redirect(next_path)
        form.form_errors.append(stepup.WRONG)
    ok = not form.errors and not form.form_errors
    return render_template(
        "auth/step_up.html",
        form=form,
        next_path=next_path,
        totp=user.totp_enabled,
        minutes=get_setting("security.step_up_minutes"),
    ), _status(form, ok)


@bp.route("/password", methods=["GET", "POST"])
@login_required_only
def change_password() -> ResponseReturnValue:
    """Change the signed-in user's password (required right after sign-in when so marked)."""
    user = current_user._get_current_object()
    forced = user.must_change_password
    if not forced and not stepup.is_fresh():
        return stepup.ask_to_confirm()
    next_path = safe_next_path(
        request.args.get("next"), url_for("home.dashboard" if forced else "auth.account")
    )
    form = ChangePasswordForm()
    if form.validate_on_submit():
        result = services.change_password(
            user,
            None if forced else (form.current_password.data or ""),
            form.new_password.data or "",
        )
        if result.ok:
            flash("Your password has been changed. Your other sessions have ended.", "success")
            return _after_sign_in(next_path)
        form.current_password.errors = [
            *form.current_password.errors,
            *result.current_password_errors,
        ]
        form.new_password.errors = [*form.new_password.errors, *result.new_password_errors]
    ok = not form.errors and not any(f.errors for f in form)
    return render_template(
        "auth/change_password.html",
        form=form,
        forced=forced,
        min_length=get_setting("security.password_min_length"),
        max_length=get_setting("security.password_max_length"),
    ), _status(form, ok)


@bp.route("/two-factor/set-up", methods=["GET", "POST"])
@login_required_only
@limiter.limit(_sign_in_rate_limit, methods=["POST"])
def totp_enrol() -> ResponseReturnValue:
    """Set up (or move) two-factor: scan the QR code, then prove it with a code."""
    user = current_user._get_current_object()
    if user.totp_enabled and not stepup.is_fresh():
        return stepup.ask_to_confirm()
    secret = session.get(ENROL_SECRET_KEY)
    if not isinstance(secret, str) or not secret:
        secret = totp.new_secret()
        session[ENROL_SECRET_KEY] = secret
    required = services.required_totp_enrolment(user)
    form = CodeForm()
    if form.validate_on_submit():
        codes = services.enrol_totp(user, secret, form.code.data or "")
        if codes is not None:
            session.pop(ENROL_SECRET_KEY, None)
            default = "home.dashboard" if required else "auth.account"
            next_path = safe_next_path(request.args.get("next"), url_for(default))
            return render_template("auth/recovery_codes.html", codes=codes, next_path=next_path)
        form.code.errors = [
            *form.code.errors,
            "The code is not right. Check the time on your phone and enter the newest code.",
        ]
    ok = not any(f.errors for f in form)
    return render_template(
        "auth/totp_enrol.html",
        form=form,
        secret=totp.grouped(secret),
        required=required,
        replacing=user.totp_enabled,
    ), _status(form, ok)


@bp.route("/two-factor/qr.svg")
@login_required_only
def totp_qr() -> ResponseReturnValue:
    """The QR code of the secret being set up (served here, not inline, to keep the CSP strict)."""
    secret = session.get(ENROL_SECRET_KEY)
    if not isinstance(secret, str) or not secret:
        abort(404)
    svg = totp.qr_svg(totp.provisioning_uri(secret, current_user.username))
    return current_app.response_class(svg, mimetype="image/svg+xml")


@bp.route("/two-factor/recovery-codes", methods=["POST"])
@login_required_only
@limiter.limit(_sign_in_rate_limit, methods=["POST"])
def recovery_codes() -> ResponseReturnValue:
    """Replace the recovery codes (proved with a current authenticator code)."""
    user = current_user._get_current_object()
    if not user.totp_enabled:
        abort(404)
    if not stepup.is_fresh():
        return stepup.ask_to_confirm()
    form = CodeForm()
    codes = (
        services.regenerate_recovery_codes(user, form.code.data or "")
        if form.validate_on_submit()
        else None
    )
    if codes is None:
        flash("The code is not right, so the recovery codes were not replaced.", "error")
        return redirect(url_for("auth.account"))
    return render_template(
        "auth/recovery_codes.html", codes=codes, next_path=url_for("auth.account")
    )
