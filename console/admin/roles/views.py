"""Roles: the list with permissions and member counts; create, rename, edit permissions."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from console.admin import bp
from console.admin.forms import ConfirmForm, choices
from console.admin.roles import services as role_service
from console.admin.roles.forms import RoleForm
from console.admin.services import (
    AdminActionError,
    EditConflict,
    FieldErrors,
    NotFound,
    error_status,
)
from console.admin.users.guards import LastAdminError
from console.db.models import Role
from console.permissions import PERMISSIONS, require_permission
from console.web.query import ID_ROUTE


def _form(role: Role | None = None) -> RoleForm:
    """The form from the request (``role=None``) or showing a saved role."""
    if role is None:
        form = RoleForm()
    else:
        form = RoleForm(
            formdata=None,
            data={
                "name": role.name,
                "description": role.description,
                "permissions": role.permission_names,
                "version": role.version,
            },
        )
    form.permissions.choices = choices([(key, key) for key in PERMISSIONS])
    return form


def _attach(form: RoleForm, errors: dict[str, str]) -> None:
    for name, message in errors.items():
        field = getattr(form, name, None)
        if field is not None:
            field.errors = [*list(field.errors or []), message]
        else:
            form.form_errors.append(message)


@bp.get("/roles")
@require_permission("roles.manage")
def roles() -> ResponseReturnValue:
    """Every role with its permissions and how many users have it."""
    return render_template(
        "admin/roles.html", summaries=role_service.list_roles(), permissions=PERMISSIONS
    )


@bp.route("/roles/new", methods=["GET", "POST"])
@require_permission("roles.manage")
def role_create() -> ResponseReturnValue:
    """Create a role."""
    form = _form()
    status = 400 if form.is_submitted() else 200
    if form.validate_on_submit():
        try:
            role = role_service.create_role(
                form.name.data or "", form.description.data or "", form.permissions.data or []
            )
        except FieldErrors as exc:
            _attach(form, exc.errors)
            status = error_status(exc)
        else:
            flash(f"Created the role {role.name}.", "success")
            return redirect(url_for("admin.roles"))
    return render_template(
        "admin/role_form.html", form=form, role=None, permissions=PERMISSIONS
    ), status


def _load(role_id: int) -> Role:
    try:
        return role_service.get_role(role_id)
    except NotFound:
        abort(404)


def _edit_page(role: Role, form: RoleForm, status: int = 200, **extra: Any) -> ResponseReturnValue:
    return render_template(
        "admin/role_form.html",
        form=form,
        role=role,
        permissions=PERMISSIONS,
        members=role_service.member_count(role.id),
        confirm_form=ConfirmForm(),
        **extra,
    ), status


@bp.route(f"/roles/<{ID_ROUTE}:role_id>", methods=["GET", "POST"])
@require_permission("roles.manage")
def role_edit(role_id: int) -> ResponseReturnValue:
    """Rename a role or change its permissions (optimistic locking, last-admin protection)."""
    role = _load(role_id)
    if request.method == "GET":
        return _edit_page(role, _form(role))
    form = _form()
    if not form.validate_on_submit():
        return _edit_page(role, form, 400)
    try:
        changed = role_service.update_role(
            role_id,
            expected_version=form.version.data or 0,
            name=form.name.data or "",
            description=form.description.data or "",
            permissions=form.permissions.data or [],
        )
    except EditConflict as exc:
        fresh = _load(role_id)
        return _edit_page(
            fresh,
            _form(fresh),
            409,
            conflict=str(exc),
            yours={
                "name": form.name.data,
                "description": form.description.data,
                "permissions": sorted(form.permissions.data or []),
            },
            saved=role_service.role_snapshot(fresh),
        )
    except FieldErrors as exc:
        _attach(form, exc.errors)
        return _edit_page(_load(role_id), form, error_status(exc))
    except LastAdminError as exc:
        form.form_errors.append(str(exc))
        return _edit_page(_load(role_id), form, 409)
    flash(
        f"Saved the role {form.name.data}." if changed else "Nothing was changed.",
        "success" if changed else "info",
    )
    return redirect(url_for("admin.roles"))


@bp.route(f"/roles/<{ID_ROUTE}:role_id>/delete", methods=["GET", "POST"])
@require_permission("roles.manage")
def role_delete(role_id: int) -> ResponseReturnValue:
    """Confirm (GET) and delete (POST) a role that nobody has."""
    role = _load(role_id)
    if request.method == "GET":
        return render_template(
            "admin/role_delete.html", role=role, members=role_service.member_count(role.id)
        )
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        name = role_service.delete_role(role_id)
    except AdminActionError as exc:
        return _edit_page(_load(role_id), _form(role), 409, action_error=str(exc))
    flash(f"Deleted the role {name}.", "success")
    return redirect(url_for("admin.roles"))
