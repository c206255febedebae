"""Users: the searchable list, bulk actions, CSV export, create, edit and account actions."""

from __future__ import annotations

import json
from typing import Any

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from console.admin import bp
from console.admin.forms import ConfirmForm, choices
from console.admin.services import (
    AdminActionError,
    Clash,
    EditConflict,
    FieldErrors,
    NotFound,
    Refused,
    error_status,
)
from console.admin.sessions.services import live_session_count
from console.admin.users import listing as user_listing
from console.admin.users import services as user_service
from console.admin.users.forms import PasswordResetForm, UserCreateForm, UserEditForm, parse_bulk
from console.admin.users.guards import LastAdminError
from console.admin.users.listing import STATUSES, UserListParams
from console.appsettings import get_setting
from console.db.models import User, utcnow
from console.permissions import require_permission
from console.web.csv import csv_response, stream_csv
from console.web.htmx import is_htmx, page_or_fragment
from console.web.query import ID_ROUTE

USER_ACTIONS: dict[str, dict[str, str]] = {
    "disable": {
        "title": "Disable this user",
        "button": "Disable user",
        "text": "They are signed out everywhere and cannot sign in until enabled again.",
    },
    "enable": {
        "title": "Enable this user",
        "button": "Enable user",
        "text": "They can sign in again with their current password.",
    },
    "unlock": {
        "title": "Unlock this user",
        "button": "Unlock",
        "text": "Clears the failed sign-in count and any temporary lockout.",
    },
    "require-password-change": {
        "title": "Require a password change",
        "button": "Require password change",
        "text": "They must choose a new password the next time they sign in.",
    },
    "require-totp": {
        "title": "Require two-factor set-up",
        "button": "Require two-factor",
        "text": "They must set up an authenticator app before they can do anything else: at "
        "their next sign-in, or on their next page if they are signed in now.",
    },
    "withdraw-totp": {
        "title": "Withdraw the two-factor set-up requirement",
        "button": "Withdraw two-factor requirement",
        "text": "They no longer have to set up an authenticator app before doing anything "
        "else. Where the settings require two-factor for administrators, that still applies.",
    },
    "reset-password": {
        "title": "Reset the password",
        "button": "Reset password",
        "text": "Sets a temporary password, signs them out everywhere, and makes them "
        "choose a new password at their next sign-in.",
    },
    "reset-totp": {
        "title": "Reset two-factor authentication",
        "button": "Reset two-factor",
        "text": "Removes their authenticator app and recovery codes. "
        "They enrol again when they next sign in, if two-factor is required.",
    },
    "end-sessions": {
        "title": "End all sessions",
        "button": "End sessions",
        "text": "Signs them out of every browser; they can sign in again.",
    },
    "delete": {
        "title": "Delete this user",
        "button": "Delete user",
        "text": "Only accounts that have never been used can be deleted. This cannot be undone.",
    },
}
FIELD_LABELS = {"full_name": "Full name", "email": "E-mail", "roles": "Roles", "active": "Active"}
SELF_RESET_REFUSAL = (
    "You cannot reset your own password here: use “Change password” on your account page."
)
SIMPLE_ACTIONS = {
    "disable": "disable",
    "enable": "enable",
    "unlock": "unlock",
    "require-password-change": "require_password_change",
    "require-totp": "require_totp",
    "withdraw-totp": "withdraw_totp",
}


# --- list ---------------------------------------------------------------------------------


def _status_text(page: Any, params: UserListParams) -> str:
    count = len(page.rows)
    label = user_listing.SORTS[params.sort][0].lower()
    order = "descending" if params.direction == "desc" else "ascending"
    if count == 0:
        return "No users match."
    more = " More on the next page." if page.next_cursor else ""
    noun = "user" if count == 1 else "users"
    return f"Showing {count} {noun}, sorted by {label} ({order}).{more}"


def _list_context(params: UserListParams) -> dict[str, Any]:
    page = user_listing.list_users(params)
    return {
        "params": params,
        "page": page,
        "status_text": _status_text(page, params),
        "roles": user_listing.role_choices(),
        "statuses": STATUSES,
        "sorts": user_listing.SORTS,
        "page_sizes": user_listing.PAGE_SIZES,
        "actions": user_service.ACTIONS,
        "now": utcnow(),
        "current_user_id": current_user.id,
    }


@bp.get("/users")
@require_permission("users.manage")
def users() -> ResponseReturnValue:
    """The users list; htmx requests get the results fragment (with out-of-band updates)."""
    params = user_listing.parse_params(request.args)
    return page_or_fragment("admin/users.html", "admin/_users_oob.html", **_list_context(params))


@bp.get("/users/count")
@require_permission("users.manage")
def users_count() -> ResponseReturnValue:
    """How many users match the filter: asked for by the list once a view is shown (``auto``:
    the answer then leaves the focus where it is), or by a click; never per keystroke."""
    user_filter = user_listing.parse_filter(request.args)
    count = user_listing.count_users(user_filter)
    return page_or_fragment(
        "admin/users_count.html",
        "admin/_users_count.html",
        count=count,
        params=UserListParams(filter=user_filter),
        auto=request.args.get("auto") == "1",
    )


@bp.get("/users/export.csv")
@require_permission("users.manage")
def users_export() -> ResponseReturnValue:
    """The filtered, sorted view as CSV, streamed."""
    params = user_listing.parse_params(request.args).without_page()
    user_listing.record_export(params)
    return csv_response(
        "users", stream_csv(user_listing.EXPORT_HEADER, user_listing.export_rows(params))
    )


# --- bulk ---------------------------------------------------------------------------------


NAMES_SHOWN = 5  # the confirmation names this many of the users that would change


def _bulk_context(preview: user_service.BulkPreview) -> dict[str, Any]:
    view = user_listing.parse_params(request.form)
    return {
        "preview": preview,
        "bulk": preview.request,
        "what": bulk_title(preview),
        "names": user_service.changing_usernames(preview.request, NAMES_SHOWN),
        "list_params": view,
        "list_params_query": view.as_query(after=None, before=None),
    }


def bulk_title(preview: user_service.BulkPreview) -> str:
    """``Disable 12 users`` — the confirmation's title and button."""
    count = f"{preview.changing:,} {'user' if preview.changing == 1 else 'users'}"
    role = f" “{preview.role_name}”" if preview.role_name else ""
    return {
        "disable": f"Disable {count}",
        "enable": f"Enable {count}",
        "unlock": f"Unlock {count}",
        "require_password_change": f"Require a password change for {count}",
        "require_totp": f"Require two-factor set-up for {count}",
        "withdraw_totp": f"Withdraw the two-factor set-up requirement for {count}",
        "assign_role": f"Assign the role{role} to {count}",
        "remove_role": f"Remove the role{role} from {count}",
    }[preview.action.key]


def _bulk_error(message: str, errors: dict[str, str] | None, status: int) -> ResponseReturnValue:
    """The bulk form's problem: into the dialog slot for htmx, a page otherwise."""
    context = {"message": message, "errors": errors or {}, "back": _back_to_list()}
    if is_htmx():
        body = render_template("admin/_users_bulk_problem.html", **context)
        return body, status, {"HX-Retarget": "#bulk-dialog-slot", "HX-Reswap": "innerHTML"}
    return render_template("admin/users_bulk_problem.html", **context), status


def _back_to_list() -> str:
    user_filter = user_listing.parse_filter(request.form)
    return url_for("admin.users", **user_filter.as_query())


@bp.post("/users/bulk/confirm")
@require_permission("users.manage")
def users_bulk_confirm() -> ResponseReturnValue:
    """Say how many users the action would change, and ask to confirm (a dialog with htmx)."""
    bulk = parse_bulk(request.form)
    try:
        preview = user_service.preview_bulk(bulk)
    except FieldErrors as exc:
        return _bulk_error("Choose what to do and with which users.", exc.errors, 400)
    return page_or_fragment(
        "admin/users_bulk_confirm.html",
        "admin/_users_bulk_confirm_dialog.html",
        **_bulk_context(preview),
    )


@bp.post("/users/bulk")
@require_permission("users.manage")
def users_bulk() -> ResponseReturnValue:
    """Apply a confirmed bulk action in one transaction."""
    bulk = parse_bulk(request.form)
    try:
        result = user_service.apply_bulk(bulk, confirmation=request.form.get("confirmation", ""))
    except user_service.StaleSelection as exc:
        if is_htmx():
            body = render_template(
                "admin/_users_bulk_confirm_dialog.html",
                stale=str(exc),
                **_bulk_context(exc.preview),
            )
            return body, 409, {"HX-Retarget": "#bulk-dialog-slot", "HX-Reswap": "innerHTML"}
        return render_template(
            "admin/users_bulk_confirm.html", stale=str(exc), **_bulk_context(exc.preview)
        ), 409
    except (Refused, Clash) as exc:
        return _bulk_error(str(exc), exc.errors, error_status(exc))
    except FieldErrors as exc:
        return _bulk_error("Choose what to do and with which users.", exc.errors, 400)
    except LastAdminError as exc:
        return _bulk_error(str(exc), None, 409)
    message = _bulk_message(result)
    params = user_listing.parse_params(request.form).without_page()
    if is_htmx():
        body = render_template(
            "admin/_users_oob.html",
            htmx=True,
            done_message=message,
            clear_dialog=True,
            **_list_context(params),
        )
        return body, 200, {"HX-Retarget": "#user-results", "HX-Reswap": "innerHTML"}
    flash(message, "success")
    return redirect(url_for("admin.users", **params.as_query()))


def _bulk_message(result: user_service.BulkPreview) -> str:
    noun = "user" if result.changing == 1 else "users"
    action = result.action
    role = f" “{result.role_name}”" if result.role_name else ""
    done = {
        "disable": "Disabled",
        "enable": "Enabled",
        "unlock": "Unlocked",
        "require_password_change": "Required a password change for",
        "require_totp": "Required two-factor set-up for",
        "withdraw_totp": "Withdrew the two-factor set-up requirement for",
        "assign_role": f"Assigned the role{role} to",
        "remove_role": f"Removed the role{role} from",
    }[action.key]
    return f"{done} {result.changing} {noun}."


# --- create -------------------------------------------------------------------------------


def _role_choices() -> list[SelectChoice]:
    return choices(user_listing.role_choices())


@bp.route("/users/new", methods=["GET", "POST"])
@require_permission("users.manage")
def user_create() -> ResponseReturnValue:
    """Create a user; a generated temporary password is shown once."""
    form = UserCreateForm()
    form.roles.choices = _role_choices()
    status = 400 if form.is_submitted() else 200
    if form.validate_on_submit():
        try:
            created = user_service.create_account(
                username=form.username.data or "",
                email=form.email.data or "",
                full_name=form.full_name.data or "",
                role_ids=form.roles.data or [],
                password=form.typed_password(),
            )
        except FieldErrors as exc:
            _attach_errors(form, exc.errors)
            status = error_status(exc)
        else:
            if created.generated_password is None:
                flash(
                    f"Created {created.username}. They must change the password at first sign-in.",
                    "success",
                )
                return redirect(url_for("admin.user_detail", user_id=created.user_id))
            return _show_password_once(
                "created", created.user_id, created.username, created.generated_password
            )
    return render_template("admin/user_create.html", form=form), status


@bp.app_template_global()
def password_min_length() -> int:
    """The shortest password allowed now (the password hints state it as a number)."""
    return int(get_setting("security.password_min_length"))


SHOWN_PASSWORD_KEY = "_temporary_password"  # noqa: S105 (a session key name)
# The pages that show a generated temporary password once, by why it was made: endpoint, title.
SHOWN_PASSWORD_PAGES = {
    "created": ("admin.user_created", "Created {username}"),
    "reset": ("admin.user_password_reset", "New temporary password for {username}"),
}


def _show_password_once(kind: str, user_id: int, username: str, password: str) -> Response:
    """Post/redirect/get: the generated password waits once in the server-side session (never
    in a URL, never logged) for the page the browser is sent to, so a reload or Back neither
    repeats the change nor shows the password again."""
    session[SHOWN_PASSWORD_KEY] = {
        "kind": kind,
        "user_id": user_id,
        "username": username,
        "password": password,
    }
    return redirect(url_for(SHOWN_PASSWORD_PAGES[kind][0], user_id=user_id), 303)


def _held_password_page(kind: str, user_id: int) -> ResponseReturnValue:
    """The password held for this page, shown once: it leaves the session as it is shown, so a
    reload or a second visit finds it gone and is sent to the user's page, told so."""
    held = session.get(SHOWN_PASSWORD_KEY)
    if not isinstance(held, dict) or (held.get("kind"), held.get("user_id")) != (kind, user_id):
        flash(
            "The temporary password was shown once and is not kept. "
            "Reset the password to make a new one.",
            "info",
        )
        return redirect(url_for("admin.user_detail", user_id=user_id))
    session.pop(SHOWN_PASSWORD_KEY)
    return render_template(
        "admin/password_shown.html",
        title=SHOWN_PASSWORD_PAGES[kind][1].format(username=held["username"]),
        username=held["username"],
        password=held["password"],
        user_id=user_id,
    )


@bp.get(f"/users/<{ID_ROUTE}:user_id>/created")
@require_permission("users.manage")
def user_created(user_id: int) -> ResponseReturnValue:
    """The generated temporary password of a user just created, shown once."""
    return _held_password_page("created", user_id)


@bp.get(f"/users/<{ID_ROUTE}:user_id>/new-password")
@require_permission("users.manage")
def user_password_reset(user_id: int) -> ResponseReturnValue:
    """The generated temporary password of a user whose password was just reset, shown once."""
    return _held_password_page("reset", user_id)


def _attach_errors(form: Any, errors: dict[str, str]) -> None:
    for name, message in errors.items():
        field = getattr(form, name, None)
        if field is not None and hasattr(field, "errors"):
            field.errors = [*list(field.errors or []), message]
        else:
            form.form_errors.append(message)


# --- detail, edit, actions ----------------------------------------------------------------


def _load(user_id: int) -> User:
    try:
        return user_service.get_user(user_id)
    except NotFound:
        abort(404)


def _edit_form(user: User, formdata: Any = None) -> UserEditForm:
    snap = user_service.snapshot(user)
    form = UserEditForm(
        formdata=formdata,
        data={
            "full_name": user.full_name,
            "email": user.email,
            "roles": [role.id for role in user.roles],
            "active": user.active,
            "version": user.version,
            "original": json.dumps(snap, sort_keys=True),
        },
    )
    form.roles.choices = _role_choices()
    return form


def _detail(
    user: User, form: UserEditForm | None = None, status: int = 200, **extra: Any
) -> ResponseReturnValue:
    now = utcnow()
    context = {
        "user": user,
        "form": form or _edit_form(user, formdata=None),
        "confirm_form": ConfirmForm(),
        "reset_form": PasswordResetForm(formdata=None),
        "sessions": live_session_count(user.id, now),
        "now": now,
        "actions": USER_ACTIONS,
        "available": _available_actions(user, now),
        "field_labels": FIELD_LABELS,
    }
    context.update(extra)
    return render_template("admin/user.html", **context), status


def _available_actions(user: User, now: Any) -> list[str]:
    available = ["disable" if user.active else "enable"]
    if user.locked_until is not None or user.failed_login_count:
        available.append("unlock")
    if not user.must_change_password:
        available.append("require-password-change")
    if not user.totp_enabled and not user.must_enrol_totp:
        available.append("require-totp")
    if user.must_enrol_totp:
        available.append("withdraw-totp")
    if user.id != current_user.id:
        available.append("reset-password")
    if user.totp_enabled or user.totp_secret:
        available.append("reset-totp")
    available.append("end-sessions")
    if user.last_sign_in_at is None:
        available.append("delete")
    return available


@bp.get(f"/users/<{ID_ROUTE}:user_id>")
@require_permission("users.manage")
def user_detail(user_id: int) -> ResponseReturnValue:
    """A user's details, the edit form and the account actions."""
    return _detail(_load(user_id))


@bp.post(f"/users/<{ID_ROUTE}:user_id>")
@require_permission("users.manage")
def user_update(user_id: int) -> ResponseReturnValue:
    """Save the edit form; a stale version gets a conflict and nothing is written."""
    user = _load(user_id)
    form = UserEditForm()
    form.roles.choices = _role_choices()
    if not form.validate():
        return _detail(user, form, 400)
    try:
        result = user_service.update_account(
            user_id,
            expected_version=form.version.data or 0,
            original=form.original_values(),
            full_name=form.full_name.data or "",
            email=form.email.data or "",
            role_ids=form.roles.data or [],
            active=bool(form.active.data),
        )
    except EditConflict as exc:
        fresh = _load(user_id)
        current, theirs = user_service.conflict_details(fresh, form.original_values())
        yours = {
            "full_name": form.full_name.data,
            "email": form.email.data,
            "roles": sorted(
                name for rid, name in user_listing.role_choices() if rid in (form.roles.data or [])
            ),
            "active": bool(form.active.data),
        }
        return _detail(
            fresh,
            _edit_form(fresh),
            409,
            conflict=str(exc),
            theirs=theirs,
            yours={k: v for k, v in yours.items() if v != current.get(k)},
        )
    except FieldErrors as exc:
        _attach_errors(form, exc.errors)
        return _detail(_load(user_id), form, error_status(exc))
    except LastAdminError as exc:
        form.form_errors.append(str(exc))
        return _detail(_load(user_id), form, 409)
    if not result.changed:
        flash("Nothing was changed.", "info")
    else:
        flash(f"Saved the changes to {user.username}.", "success")
    return redirect(url_for("admin.user_detail", user_id=user_id))


@bp.route(f"/users/<{ID_ROUTE}:user_id>/actions/<action>", methods=["GET", "POST"])
@require_permission("users.manage")
def user_action(user_id: int, action: str) -> ResponseReturnValue:
    """Confirm (GET) and carry out (POST) one account action."""
    if action not in USER_ACTIONS:
        abort(404)
    user = _load(user_id)
    form: Any = PasswordResetForm() if action == "reset-password" else ConfirmForm()
    if request.method == "GET" or not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render_template(
            "admin/user_action.html", user=user, action=action, info=USER_ACTIONS[action], form=form
        ), status
    username = user.username
    try:
        outcome = _carry_out(action, user_id, form)
    except FieldErrors as exc:
        _attach_errors(form, exc.errors)
        return render_template(
            "admin/user_action.html", user=user, action=action, info=USER_ACTIONS[action], form=form
        ), 400
    except LastAdminError as exc:
        return _detail(_load(user_id), status=409, action_error=str(exc))
    except NotFound:
        abort(404)
    except AdminActionError as exc:
        return _detail(_load(user_id), status=409, action_error=str(exc))
    if action == "reset-password" and isinstance(outcome, str):
        return _show_password_once("reset", user_id, username, outcome)
    if action == "delete":
        flash(f"Deleted the unused account {username}.", "success")
        return redirect(url_for("admin.users"))
    flash(_action_message(action, username, outcome), "success" if outcome is not False else "info")
    return redirect(url_for("admin.user_detail", user_id=user_id))


def _carry_out(action: str, user_id: int, form: Any) -> Any:
    if action in SIMPLE_ACTIONS:
        return user_service.apply_to_user(SIMPLE_ACTIONS[action], user_id)
    if action == "reset-password":
        if user_id == current_user.id:
            # It would end this very session before the new password could be shown.
            raise AdminActionError(SELF_RESET_REFUSAL)
        return user_service.reset_account_password(user_id, form.typed_password()) or True
    if action == "reset-totp":
        return user_service.reset_two_factor(user_id)
    if action == "end-sessions":
        return user_service.end_account_sessions(user_id)
    return user_service.delete_account(user_id)


def _action_message(action: str, username: str, outcome: Any) -> str:
    if outcome is False or outcome == 0:
        return {
            "disable": f"{username} was already disabled.",
            "enable": f"{username} was already enabled.",
            "unlock": f"{username} was not locked.",
            "require-password-change": f"{username} already had to change their password.",
            "require-totp": f"{username} already has or must set up two-factor.",
            "withdraw-totp": f"{username} did not have to set up two-factor.",
            "reset-totp": f"{username} had no two-factor authentication to reset.",
            "end-sessions": f"{username} had no sessions to end.",
        }.get(action, "Nothing needed changing.")
    if action == "end-sessions":
        return f"Ended {outcome} session{'s' if outcome != 1 else ''} of {username}."
    return {
        "disable": f"Disabled {username} and ended their sessions.",
        "enable": f"Enabled {username}.",
        "unlock": f"Unlocked {username}.",
        "require-password-change": f"{username} must change their password at next sign-in.",
        "require-totp": f"{username} must set up two-factor before doing anything else.",
        "withdraw-totp": f"{username} no longer has to set up two-factor.",
        "reset-password": f"Set a new temporary password for {username}.",
        "reset-totp": f"Reset two-factor authentication for {username}.",
    }.get(action, "Done.")
