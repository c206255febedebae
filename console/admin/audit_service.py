"""The audit log viewer: filters, keyset pages (newest first), names for ids, CSV export.

Read-only: nothing here writes to ``audit_events`` except the record of an export. Pages are
read with ``(occurred_at, id) < (cursor)`` and ``LIMIT``, which the indexes on
``occurred_at``, ``(actor_id, occurred_at)``, ``(action, occurred_at)`` and
``(patient_id, occurred_at)`` answer without scanning the table.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, select

from console.admin import keyset
from console.admin.base import parse_id, transaction
from console.audit import OUTCOMES, record_event
from console.db import db
from console.db.models import AuditEvent, Role, User

PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50
# What each recorded action means, for people reading the log (and the filter's suggestions);
# any action can still be typed, or a prefix such as "auth.".
ACTION_LABELS: dict[str, str] = {
    "auth.sign_in": "Sign-in",
    "auth.sign_out": "Sign-out",
    "auth.lockout": "Account locked after failed sign-ins",
    "auth.unlock": "Account unlocked",
    "auth.session_ended": "Session ended",
    "auth.session_expired": "Session expired",
    "auth.password_change": "Own password changed",
    "auth.totp_enrol": "Two-factor authentication set up",
    "auth.totp_reset": "Two-factor authentication reset",
    "auth.recovery_code_used": "Recovery code used",
    "auth.recovery_codes_replaced": "Recovery codes replaced",
    "audit.export": "Audit log exported",
    "letter.list": "Patient's letters listed",
    "letter.view": "Letter read",
    "patient.search": "Patient search",
    "patient.view": "Patient record viewed",
    "template.upload": "Letter template uploaded",
    "role.create": "Role created",
    "role.delete": "Role deleted",
    "role.update": "Role changed",
    "session.end": "Session ended by an administrator",
    "setting.revert": "Setting reverted to its default",
    "setting.update": "Setting changed",
    "sso.sign_in": "Single sign-on refused",
    "sso.identity_linked": "Linked to the identity provider",
    "sso.identity_unlinked": "Identity provider link removed",
    "sso.link_pre_approved": "Identity provider link by e-mail pre-approved",
    "sso.role_added": "Role granted by the identity provider's claim",
    "sso.role_removed": "Role removed: no longer in the identity provider's claim",
    "sso.user_created": "User created at first single sign-on",
    "user.create": "User created",
    "user.create_admin_cli": "Administrator created from the command line",
    "user.create_demo_admin": "Demo administrator created",
    "user.delete": "User deleted",
    "user.disable": "User disabled",
    "user.enable": "User enabled",
    "user.export": "User list exported",
    "user.password_change_required": "Password change required at next sign-in",
    "user.password_reset": "Password reset by an administrator",
    "user.reset_demo_admin": "Demo administrator given a new password",
    "user.role_assign": "Role assigned",
    "user.role_remove": "Role removed",
    "user.sessions_end": "User's sessions ended",
    "user.totp_required": "Two-factor set-up required at next sign-in",
    "user.totp_requirement_withdrawn": "Two-factor set-up no longer required",
    "user.totp_reset": "Two-factor authentication reset by an administrator",
    "user.unlock": "User unlocked by an administrator",
    "user.update": "User details changed",
}
KNOWN_ACTIONS = tuple(ACTION_LABELS)


def action_label(action: str) -> str:
    """A readable name for an audit action; the code itself when it has none."""
    return ACTION_LABELS.get(action, action)


@dataclass(frozen=True)
class AuditFilter:
    """Which audit events to show."""

    actor: str = ""
    action: str = ""
    target_user: str = ""
    patient: str = ""
    outcome: str = ""
    since: str = ""
    until: str = ""

    def as_query(self) -> dict[str, str]:
        values = {
            "actor": self.actor,
            "action": self.action,
            "target_user": self.target_user,
            "patient": self.patient,
            "outcome": self.outcome,
            "since": self.since,
            "until": self.until,
        }
        return {k: v for k, v in values.items() if v}


@dataclass(frozen=True)
class AuditView:
    """A filtered view and its position."""

    filter: AuditFilter = field(default_factory=AuditFilter)
    per_page: int = DEFAULT_PAGE_SIZE
    after: str | None = None
    before: str | None = None

    def as_query(self, **changes: Any) -> dict[str, str]:
        view = replace(self, **changes) if changes else self
        query = view.filter.as_query()
        if view.per_page != DEFAULT_PAGE_SIZE:
            query["per_page"] = str(view.per_page)
        if view.after:
            query["after"] = view.after
        if view.before:
            query["before"] = view.before
        return query


def _text(args: Mapping[str, str], name: str, limit: int = 150) -> str:
    return (args.get(name) or "").strip()[:limit]


def parse_view(args: Mapping[str, str]) -> AuditView:
    """The viewer's state from request arguments."""
    outcome = _text(args, "outcome")
    per_page = _text(args, "per_page")
    return AuditView(
        filter=AuditFilter(
            actor=_text(args, "actor").lower(),
            action=_text(args, "action", 64).lower(),
            target_user=_text(args, "target_user").lower(),
            patient=_text(args, "patient", 128),
            outcome=outcome if outcome in OUTCOMES else "",
            since=_text(args, "since", 20),
            until=_text(args, "until", 20),
        ),
        per_page=size if (size := parse_id(per_page)) in PAGE_SIZES else DEFAULT_PAGE_SIZE,
        after=args.get("after") or None,
        before=args.get("before") or None,
    )


def parse_time(text: str, *, end_of_day: bool = False) -> datetime | None:
    """A UTC time from ``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM``; None when empty or invalid."""
    if not text:
        return None
    try:
        if len(text) == 10:
            day = datetime.strptime(text, "%Y-%m-%d").date()
            moment = datetime.combine(day, time.min, tzinfo=UTC)
            return moment + timedelta(days=1) if end_of_day else moment
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment + timedelta(minutes=1) if end_of_day and moment.second == 0 else moment


def _user_id(username: str) -> int | None:
    return db.session.scalar(select(User.id).where(User.username == username))


def build_query(audit_filter: AuditFilter) -> tuple[Select[Any] | None, dict[str, str]]:
    """The filtered statement, or None with field messages when the filter cannot match."""
    errors: dict[str, str] = {}
    stmt = select(AuditEvent)
    if audit_filter.actor:
        actor_id = _user_id(audit_filter.actor)
        if actor_id is None:
            errors["actor"] = f"There is no user called {audit_filter.actor}."
        stmt = stmt.where(AuditEvent.actor_id == actor_id)
    if audit_filter.target_user:
        target_id = _user_id(audit_filter.target_user)
        if target_id is None:
            errors["target_user"] = f"There is no user called {audit_filter.target_user}."
        stmt = stmt.where(AuditEvent.target_type == "user", AuditEvent.target_id == str(target_id))
    if audit_filter.action:
        action = audit_filter.action
        if action.endswith((".", "*")):
            prefix = (
                action.rstrip("*").replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            )
            stmt = stmt.where(AuditEvent.action.like(prefix + "%", escape="\\"))
        else:
            stmt = stmt.where(AuditEvent.action == action)
    if audit_filter.patient:
        stmt = stmt.where(AuditEvent.patient_id == audit_filter.patient)
    if audit_filter.outcome:
        stmt = stmt.where(AuditEvent.outcome == audit_filter.outcome)
    since = parse_time(audit_filter.since)
    if audit_filter.since and since is None:
        errors["since"] = "Enter a date as YYYY-MM-DD (or a date and time)."
    until = parse_time(audit_filter.until, end_of_day=True)
    if audit_filter.until and until is None:
        errors["until"] = "Enter a date as YYYY-MM-DD (or a date and time)."
    if since and until and since >= until:
        errors["until"] = "The end of the period must be after its start."
    if since:
        stmt = stmt.where(AuditEvent.occurred_at >= since)
    if until:
        stmt = stmt.where(AuditEvent.occurred_at < until)
    return (None if errors else stmt), errors


SPEC = keyset.SortSpec(
    column=AuditEvent.occurred_at,  # type: ignore[arg-type]
    id_column=AuditEvent.id,  # type: ignore[arg-type]
    descending=True,
)


@dataclass
class AuditPage:
    """One page of events with the names they refer to."""

    page: keyset.KeysetPage
    names: Names
    errors: dict[str, str]


@dataclass
class Names:
    """Display names for the users and roles a page refers to."""

    users: dict[int, tuple[str, str]] = field(default_factory=dict)
    roles: dict[int, str] = field(default_factory=dict)

    def actor(self, event: AuditEvent) -> str:
        """``Full Name (username)`` of the actor, or "System" when nobody was signed in."""
        if event.actor_id is None:
            return "System"
        username, full_name = self.users.get(
            event.actor_id, (event.actor_username or f"user #{event.actor_id}", "")
        )
        return f"{full_name} ({username})" if full_name else username

    def target(self, event: AuditEvent) -> str:
        """The target as a name where one is known."""
        target = parse_id(event.target_id)
        if event.target_type == "user" and target is not None:
            found = self.users.get(target)
            if found is None:
                return f"user #{event.target_id} (deleted)"
            return f"{found[1]} ({found[0]})" if found[1] else found[0]
        if event.target_type == "role" and target is not None:
            name = self.roles.get(target)
            return f"role {name}" if name else f"role #{event.target_id} (deleted)"
        if event.target_type and event.target_id:
            return f"{event.target_type} {event.target_id}"
        return ""


def resolve_names(events: Iterable[AuditEvent]) -> Names:
    """Look up every user and role the events mention, in two queries."""
    user_ids: set[int] = set()
    role_ids: set[int] = set()
    for event in events:
        if event.actor_id is not None:
            user_ids.add(event.actor_id)
        target = parse_id(event.target_id)
        if target is not None:
            if event.target_type == "user":
                user_ids.add(target)
            elif event.target_type == "role":
                role_ids.add(target)
    names = Names()
    if user_ids:
        rows = db.session.execute(
            select(User.id, User.username, User.full_name).where(User.id.in_(user_ids))
        )
        names.users = {uid: (username, full_name) for uid, username, full_name in rows}
    if role_ids:
        rows = db.session.execute(select(Role.id, Role.name).where(Role.id.in_(role_ids)))
        names.roles = {rid: name for rid, name in rows}
    return names


def list_events(view: AuditView) -> AuditPage:
    """One page of events, newest first."""
    stmt, errors = build_query(view.filter)
    if stmt is None:
        return AuditPage(keyset.KeysetPage([], None, None), Names(), errors)
    page = keyset.fetch_page(stmt, SPEC, view.per_page, after=view.after, before=view.before)
    return AuditPage(page, resolve_names(page.rows), errors)


def diff_rows(event: AuditEvent) -> list[tuple[str, Any, Any]]:
    """(field, before, after) for every field an edit's event mentions."""
    before = event.before or {}
    after = event.after or {}
    keys = list(dict.fromkeys([*before.keys(), *after.keys()]))
    return [(key, before.get(key), after.get(key)) for key in keys]


EXPORT_HEADER = (
    "Time (UTC)",
    "Actor",
    "Action",
    "Event",
    "Outcome",
    "Target",
    "Target type",
    "Target id",
    "Patient id",
    "Client address",
    "Request id",
    "Before",
    "After",
    "Details",
)


def record_export(audit_filter: AuditFilter) -> None:
    """Audit an export of the log (committed before the first row is sent)."""
    with transaction():
        record_event("audit.export", details={"filter": audit_filter.as_query()})


def export_rows(audit_filter: AuditFilter, batch: int = 500) -> Iterator[list[Any]]:
    """Every event of the filtered view, newest first, read with a server-side cursor."""
    stmt, _errors = build_query(audit_filter)
    if stmt is None:
        return
    result = db.session.scalars(keyset.ordered(stmt, SPEC).execution_options(yield_per=batch))
    for partition in result.partitions():
        events = list(partition)
        names = resolve_names(events)
        for event in events:
            yield [
                event.occurred_at,
                names.actor(event),
                event.action,
                action_label(event.action),
                event.outcome,
                names.target(event),
                event.target_type,
                event.target_id,
                event.patient_id,
                event.client_address,
                event.request_id,
                json.dumps(event.before, sort_keys=True) if event.before is not None else "",
                json.dumps(event.after, sort_keys=True) if event.after is not None else "",
                json.dumps(event.details, sort_keys=True) if event.details is not None else "",
            ]
