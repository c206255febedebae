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
from console.admin.users import actions
from console.admin.users import listing as user_listing
from console.admin.users import services as user_service
from console.admin.users.actions import BULK_ACTIONS, UserAction
from console.admin.users.bulk import (
    BulkPreview,
    StaleSelection,
    apply_bulk,
    apply_to_user,
    changing_usernames,
    preview_bulk,
)
from console.admin.users.forms import PasswordResetForm, UserCreateForm, UserEditForm, parse_bulk
from console.admin.users.guards import LastAdminError
from console.admin.users.listing import STATUSES, UserListParams
from console.appsettings import get_setting
from console.db.models import User, utcnow
from console.permissions import require_permission
from console.web.csv import csv_response, stream_csv
from console.web.htmx import is_htmx, page_or_fragment
from console.web.query import ID_ROUTE

FIELD_LABELS = {"full_name": "Full name", "email": "E-mail", "roles": "Roles", "active": "Active"}


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
        "actions": BULK_ACTIONS,
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


def _bulk_context(preview: BulkPreview) -> dict[str, Any]:
    view = user_listing.parse_params(request.form)
    return {
        "preview": preview,
        "bulk": preview.request,
        "what": bulk_title(preview),
        "names": changing_usernames(preview.request, NAMES_SHOWN),
        "list_params": view,
        "list_params_query": view.as_query(after=None, before=None),
    }


def bulk_title(preview: BulkPreview) -> str:
    """``Disable 12 users`` — the confirmation's title and button."""
    return actions.bulk_title(preview.action, preview.changing, preview.role_name)


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
        preview = preview_bulk(bulk)
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
        result = apply_bulk(bulk, confirmation=request.form.get("confirmation", ""))
    except StaleSelection as exc:
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


def _bulk_message(result: BulkPreview) -> str:
    return actions.bulk_done(result.action, result.changing, result.role_name)


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
        "available": actions.available_actions(user, now, current_user.id),
        "field_labels": FIELD_LABELS,
    }
    context.update(extra)
    return render_template("admin/user.html", **context), status


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
    """Confirm (GET) and carry out (POST) one account action (``action``: its slug)."""
    chosen = actions.BY_SLUG.get(action)
    if chosen is None or chosen.needs_role:
        abort(404)
    return _user_action(user_id, chosen)


def _user_action(user_id: int, action: UserAction) -> ResponseReturnValue:
    user = _load(user_id)
    form: Any = PasswordResetForm() if action.key == "reset_password" else ConfirmForm()
    if request.method == "GET" or not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render_template(
            "admin/user_action.html", user=user, action=action, form=form
        ), status
    username = user.username
    try:
        outcome = _carry_out(action, user_id, form)
    except FieldErrors as exc:
        _attach_errors(form, exc.errors)
        return render_template("admin/user_action.html", user=user, action=action, form=form), 400
    except LastAdminError as exc:
        return _detail(_load(user_id), status=409, action_error=str(exc))
    except NotFound:
        abort(404)
    except AdminActionError as exc:
        return _detail(_load(user_id), status=409, action_error=str(exc))
    if action.key == "reset_password" and isinstance(outcome, str):
        return _show_password_once("reset", user_id, username, outcome)
    message = actions.one_user_message(action, username, outcome)
    changed = outcome is not False and outcome != 0
    flash(message, "success" if changed else "info")
    if action.key == "delete":
        return redirect(url_for("admin.users"))
    return redirect(url_for("admin.user_detail", user_id=user_id))


def _carry_out(action: UserAction, user_id: int, form: Any) -> object:
    if action.refused_on_oneself and user_id == current_user.id:
        raise AdminActionError(action.refused_on_oneself)
    if action.effect is None:
        return apply_to_user(action.key, user_id)
    password = form.typed_password() if action.key == "reset_password" else None
    return action.effect(user_id, password)
