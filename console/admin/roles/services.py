"""Roles: list with member counts, create, rename, change permissions, delete empty roles.

Each change is one transaction with its audit event; a change that would leave no active
user able to manage users is refused (see ``console.admin.users.guards``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from console.admin.privileges import check_permission_grant
from console.admin.services import (
    AdminActionError,
    EditConflict,
    FieldErrors,
    NotFound,
    transaction,
)
from console.admin.users.accounts import HIDDEN_CHARACTERS_MESSAGE, has_hidden_characters
from console.admin.users.guards import admin_guard
from console.audit import changes, record_event
from console.db import db
from console.db.models import Role, RolePermission, User, UserRole, utcnow
from console.permissions import PERMISSIONS


@dataclass
class RoleSummary:
    """A role on the roles page."""

    role: Role
    members: int
    active_members: int


def list_roles() -> list[RoleSummary]:
    """Every role with its permissions and member counts (two queries in all)."""
    roles = list(
        db.session.scalars(select(Role).options(selectinload(Role.permissions)).order_by(Role.name))
    )
    counts = {
        role_id: (total, active)
        for role_id, total, active in db.session.execute(
            select(
                UserRole.role_id,
                func.count(),
                func.sum(case((User.active.is_(True), 1), else_=0)),
            )
            .join(User, User.id == UserRole.user_id)
            .group_by(UserRole.role_id)
        )
    }
    return [
        RoleSummary(role, *(int(n or 0) for n in counts.get(role.id, (0, 0)))) for role in roles
    ]


def get_role(role_id: int) -> Role:
    """The role, or ``NotFound``."""
    role = db.session.get(Role, role_id)
    if role is None:
        raise NotFound("There is no such role; it may have been deleted.")
    return role


def role_snapshot(role: Role) -> dict[str, Any]:
    """A role's editable fields as plain values."""
    return {
        "name": role.name,
        "description": role.description,
        "permissions": sorted(role.permission_names),
    }


def member_count(role_id: int) -> int:
    """How many users have the role."""
    stmt = select(func.count()).select_from(UserRole).where(UserRole.role_id == role_id)
    return db.session.scalar(stmt) or 0


def _clean(name: str, description: str, permissions: Sequence[str]) -> tuple[str, str, list[str]]:
    errors: dict[str, str] = {}
    if has_hidden_characters(name):
        errors["name"] = HIDDEN_CHARACTERS_MESSAGE
    if has_hidden_characters(description.replace("\r\n", "\n").replace("\n", "")):
        errors["description"] = HIDDEN_CHARACTERS_MESSAGE  # line breaks are fine there
    name = " ".join(name.split())
    if not name:
        errors.setdefault("name", "Enter a name for the role.")
    elif len(name) > 100:
        errors.setdefault("name", "Enter a name of at most 100 characters.")
    description = description.strip()
    if len(description) > 500:
        errors["description"] = "Enter a description of at most 500 characters."
    unknown = sorted(set(permissions) - set(PERMISSIONS))
    if unknown:
        errors["permissions"] = f"Unknown permission: {', '.join(unknown)}."
    if errors:
        raise FieldErrors(errors)
    return name, description, sorted(set(permissions))


def _name_taken(name: str, except_id: int | None = None) -> bool:
    stmt = select(func.count()).where(func.lower(Role.name) == name.lower())
    if except_id is not None:
        stmt = stmt.where(Role.id != except_id)
    return bool(db.session.scalar(stmt))


def create_role(name: str, description: str, permissions: Sequence[str]) -> Role:
    """Create a role granting ``permissions``."""
    with transaction():
        name, description, permissions = _clean(name, description, permissions)
        if _name_taken(name):
            raise FieldErrors({"name": f"There is already a role called {name}."})
        check_permission_grant(permissions, action="role.create", target_id=None, role_name=name)
        role = Role(
            name=name,
            description=description,
            permissions=[RolePermission(permission=p) for p in permissions],
        )
        db.session.add(role)
        db.session.flush()
        record_event(
            "role.create",
            target_type="role",
            target_id=role.id,
            after={"name": name, "description": description, "permissions": permissions},
        )
        return role


def update_role(
    role_id: int,
    *,
    expected_version: int,
    name: str,
    description: str,
    permissions: Sequence[str],
) -> dict[str, Any]:
    """Rename a role or change its permissions; the changed fields (empty when none)."""
    with transaction():
        guard = admin_guard()
        role = get_role(role_id)
        if role.version != expected_version:
            raise EditConflict("this role")
        name, description, permissions = _clean(name, description, permissions)
        if _name_taken(name, except_id=role.id):
            raise FieldErrors({"name": f"There is already a role called {name}."})
        before = role_snapshot(role)
        after = {"name": name, "description": description, "permissions": permissions}
        old, new = changes(before, after)
        if not new:
            return {}
        check_permission_grant(
            set(permissions) - set(before["permissions"]),
            action="role.update",
            target_id=role.id,
            role_name=before["name"],
        )
        role.name = name
        role.description = description
        kept = {p.permission: p for p in role.permissions}
        role.permissions = [kept.get(p) or RolePermission(permission=p) for p in permissions]
        role.updated_at = utcnow()  # always UPDATE the row, so the version moves on
        try:
            guard.check()
        except StaleDataError:
            raise EditConflict("this role") from None
        record_event("role.update", target_type="role", target_id=role.id, before=old, after=new)
        return new


def delete_role(role_id: int) -> str:
    """Delete a role nobody has; its name."""
    with transaction():
        role = get_role(role_id)
        if member_count(role.id):
            raise AdminActionError(
                "Users still have this role. Remove it from them first (the users list can "
                "filter by role and remove it from all of them at once)."
            )
        before = role_snapshot(role)
        db.session.delete(role)
        db.session.flush()
        record_event("role.delete", target_type="role", target_id=role_id, before=before)
        return before["name"]
