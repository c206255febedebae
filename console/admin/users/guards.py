"""Last-administrator protection: the console must always keep someone who can manage users.

A guarded change calls ``admin_guard()`` before it touches anything and ``check()`` after it
has flushed. On PostgreSQL the current holders are locked (``FOR UPDATE``) first, so two
administrators disabling each other at the same moment cannot both succeed; SQLite serialises
writers anyway.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, func, select

from console.db import db
from console.db.models import RolePermission, User, UserRole

ADMIN_PERMISSION = "users.manage"


class LastAdminError(Exception):
    """The change would leave no active user who holds ``users.manage``."""

    def __init__(self) -> None:
        super().__init__(
            "This change would leave no active user who can manage users. "
            "Give another active user a role with “users.manage” first."
        )


def _holds_admin_permission():  # type: ignore[no-untyped-def]
    return exists(
        select(UserRole.user_id)
        .join(RolePermission, RolePermission.role_id == UserRole.role_id)
        .where(UserRole.user_id == User.id, RolePermission.permission == ADMIN_PERMISSION)
    )


def active_admin_ids(*, lock: bool = False) -> list[int]:
    """Ids of the active users whose roles grant ``users.manage``."""
    stmt = select(User.id).where(User.active.is_(True), _holds_admin_permission())
    if lock and db.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.order_by(User.id).with_for_update(of=User)
    return list(db.session.scalars(stmt))


def active_admin_count() -> int:
    """How many active users can manage users."""
    stmt = select(func.count()).where(User.active.is_(True), _holds_admin_permission())
    return db.session.scalar(stmt) or 0


@dataclass
class AdminGuard:
    """Remembers whether an administrator existed before a change."""

    had_admin: bool

    def check(self) -> None:
        """Raise ``LastAdminError`` when the flushed change removed the last administrator."""
        db.session.flush()
        if self.had_admin and active_admin_count() == 0:
            raise LastAdminError()


def admin_guard() -> AdminGuard:
    """Lock the current administrators and remember that there were some."""
    return AdminGuard(had_admin=bool(active_admin_ids(lock=True)))
