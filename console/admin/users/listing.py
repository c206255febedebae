"""The users list: filters, sort orders and keyset pages, parsed from and written to the URL.

Nothing here counts the whole table: a page is read with ``LIMIT per_page + 1`` and the number
of matching users is computed only when someone asks for it (or confirms a bulk action).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, false, func, or_, select, true
from sqlalchemy.orm import selectinload

from console.admin.services import transaction
from console.audit import record_event
from console.db import db
from console.db.models import Role, User, UserRole, utcnow
from console.web import keyset
from console.web.query import parse_id, parse_int

STATUSES: dict[str, str] = {
    "active": "Active",
    "disabled": "Disabled",
    "locked": "Locked",
    "must_change_password": "Must change password",
    "no_totp": "No two-factor",
}
SORTS: dict[str, tuple[str, str, bool]] = {
    # key: (label, model attribute, nullable)
    "username": ("Username", "username", False),
    "name": ("Name", "full_name", False),
    "email": ("E-mail", "email", False),
    "last_sign_in": ("Last sign-in", "last_sign_in_at", True),
    "created": ("Created", "created_at", False),
}
PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50
MAX_QUERY_LENGTH = 100
MAX_DORMANT_DAYS = 36500
NO_ROLE = "none"


@dataclass(frozen=True)
class UserFilter:
    """Which users a view (or a bulk action over it) covers."""

    q: str = ""
    role: str = ""  # a role id, NO_ROLE, or "" for any
    status: str = ""
    dormant_days: int | None = None

    def as_query(self) -> dict[str, str]:
        """The filter as URL parameters (empty ones left out)."""
        params = {"q": self.q, "role": self.role, "status": self.status}
        if self.dormant_days is not None:
            params["dormant"] = str(self.dormant_days)
        return {k: v for k, v in params.items() if v}

    def describe(self) -> dict[str, Any]:
        """The filter for an audit record."""
        return {k: v for k, v in self.as_query().items()}

    @property
    def is_empty(self) -> bool:
        return not self.as_query()


@dataclass(frozen=True)
class UserListParams:
    """Everything that decides one page of the users list."""

    filter: UserFilter = field(default_factory=UserFilter)
    sort: str = "username"
    direction: str = "asc"
    per_page: int = DEFAULT_PAGE_SIZE
    after: str | None = None
    before: str | None = None

    def as_query(self, **changes: Any) -> dict[str, str]:
        """URL parameters for this view, with ``changes`` applied (a new sort starts at page 1)."""
        params = replace(self, **changes) if changes else self
        query = params.filter.as_query()
        if params.sort != "username" or params.direction != "asc":
            query["sort"] = params.sort
            query["dir"] = params.direction
        if params.per_page != DEFAULT_PAGE_SIZE:
            query["per_page"] = str(params.per_page)
        if params.after:
            query["after"] = params.after
        if params.before:
            query["before"] = params.before
        return query

    def without_page(self) -> UserListParams:
        """The same view from its first page."""
        return replace(self, after=None, before=None)


def _int_or_none(text: str | None, low: int, high: int) -> int | None:
    return parse_int(text, low, high)


def parse_filter(args: Mapping[str, str]) -> UserFilter:
    """A filter from request arguments; anything unrecognised is ignored."""
    role = (args.get("role") or "").strip()
    if role != NO_ROLE:
        role_id = parse_id(role)
        role = str(role_id) if role_id is not None else ""
    status = (args.get("status") or "").strip()
    return UserFilter(
        q=" ".join((args.get("q") or "").split())[:MAX_QUERY_LENGTH],
        role=role,
        status=status if status in STATUSES else "",
        dormant_days=_int_or_none(args.get("dormant"), 1, MAX_DORMANT_DAYS),
    )


def parse_params(args: Mapping[str, str]) -> UserListParams:
    """The list view from request arguments (bad values fall back to the defaults)."""
    sort = args.get("sort", "username")
    direction = args.get("dir", "asc")
    per_page = _int_or_none(args.get("per_page"), 1, max(PAGE_SIZES))
    return UserListParams(
        filter=parse_filter(args),
        sort=sort if sort in SORTS else "username",
        direction=direction if direction in ("asc", "desc") else "asc",
        per_page=per_page if per_page in PAGE_SIZES else DEFAULT_PAGE_SIZE,
        after=args.get("after") or None,
        before=args.get("before") or None,
    )


def _like_pattern(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def filter_conditions(user_filter: UserFilter, now: datetime | None = None) -> list[Any]:
    """WHERE conditions for a filter."""
    now = now or utcnow()
    conditions: list[ColumnElement[bool]] = []
    if user_filter.q:
        pattern = _like_pattern(user_filter.q)
        conditions.append(
            or_(
                User.username.like(pattern, escape="\\"),
                User.email.like(pattern, escape="\\"),
                User.full_name.ilike(pattern, escape="\\"),
            )
        )
    if user_filter.role == NO_ROLE:
        conditions.append(~exists().where(UserRole.user_id == User.id))
    elif user_filter.role:
        conditions.append(
            exists().where(UserRole.user_id == User.id, UserRole.role_id == int(user_filter.role))
        )
    status = user_filter.status
    if status == "active":
        conditions.append(User.active.is_(true()))
    elif status == "disabled":
        conditions.append(User.active.is_(false()))
    elif status == "locked":
        conditions.append(User.is_locked(now))
    elif status == "must_change_password":
        conditions.append(User.must_change_password.is_(true()))
    elif status == "no_totp":
        conditions.append(User.totp_enabled.is_(false()))
    if user_filter.dormant_days is not None:
        cutoff = now - timedelta(days=user_filter.dormant_days)
        conditions.append(
            or_(
                User.last_sign_in_at < cutoff,
                and_(User.last_sign_in_at.is_(None), User.created_at < cutoff),
            )
        )
    return conditions


def filtered(user_filter: UserFilter, now: datetime | None = None) -> Select[tuple[User]]:
    """``SELECT users`` narrowed by a filter (unordered)."""
    return select(User).where(*filter_conditions(user_filter, now))


def sort_spec(params: UserListParams) -> keyset.SortSpec:
    """The keyset ordering of a view."""
    _, attribute, nullable = SORTS[params.sort]
    return keyset.SortSpec(
        column=getattr(User, attribute),
        id_column=User.id,  # type: ignore[arg-type]
        descending=params.direction == "desc",
        nullable=nullable,
    )


def list_users(params: UserListParams, now: datetime | None = None) -> keyset.KeysetPage:
    """One page of users (roles loaded with one more query, not one per row)."""
    base = filtered(params.filter, now).options(selectinload(User.roles))
    return keyset.fetch_page(
        base, sort_spec(params), params.per_page, after=params.after, before=params.before
    )


def count_users(user_filter: UserFilter, now: datetime | None = None) -> int:
    """How many users match a filter (asked for explicitly, never per keystroke)."""
    stmt = select(func.count()).select_from(User).where(*filter_conditions(user_filter, now))
    return db.session.scalar(stmt) or 0


EXPORT_HEADER = (
    "Username",
    "Name",
    "E-mail",
    "Roles",
    "Active",
    "Locked until",
    "Must change password",
    "Two-factor",
    "Last sign-in",
    "Created",
)


def record_export(params: UserListParams) -> None:
    """Audit an export of the view (committed before the first row is sent)."""
    with transaction():
        record_event(
            "user.export",
            details={
                "filter": params.filter.describe(),
                "sort": params.sort,
                "dir": params.direction,
            },
        )


def export_rows(params: UserListParams, now: datetime | None = None) -> Iterator[list[Any]]:
    """Every user of the view in its order, for the CSV export, read with a server-side cursor."""
    now = now or utcnow()
    stmt = keyset.ordered(
        select(
            User.id,
            User.username,
            User.full_name,
            User.email,
            User.active,
            User.locked_until,
            User.is_locked(now).label("locked"),
            User.must_change_password,
            User.totp_enabled,
            User.last_sign_in_at,
            User.created_at,
        ).where(*filter_conditions(params.filter, now)),
        sort_spec(params),
    )
    role_names = {rid: name for rid, name in db.session.execute(select(Role.id, Role.name))}
    result = db.session.execute(stmt.execution_options(yield_per=500))
    for partition in result.partitions():
        batch = list(partition)
        roles = _roles_of([row.id for row in batch], role_names)
        for row in batch:
            yield [
                row.username,
                row.full_name,
                row.email,
                "; ".join(roles.get(row.id, [])),
                row.active,
                row.locked_until if row.locked else None,
                row.must_change_password,
                "enrolled" if row.totp_enabled else "not enrolled",
                row.last_sign_in_at,
                row.created_at,
            ]


def _roles_of(user_ids: list[int], role_names: dict[int, str]) -> dict[int, list[str]]:
    """Role names per user for one batch of users (one query per batch)."""
    if not user_ids:
        return {}
    found: dict[int, list[str]] = {}
    rows = db.session.execute(
        select(UserRole.user_id, UserRole.role_id).where(UserRole.user_id.in_(user_ids))
    )
    for user_id, role_id in rows:
        found.setdefault(user_id, []).append(role_names.get(role_id, str(role_id)))
    for names in found.values():
        names.sort()
    return found


def role_choices() -> list[tuple[int, str]]:
    """(id, name) of every role, by name."""
    return [
        (rid, name)
        for rid, name in db.session.execute(select(Role.id, Role.name).order_by(Role.name))
    ]
