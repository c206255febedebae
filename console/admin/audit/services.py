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

from sqlalchemy import Select, and_, func, or_, select

from console.admin.services import transaction
from console.admin.users.actions import AUDIT_LABELS as USER_ACTION_LABELS
from console.audit import OUTCOMES, record_event
from console.dates import parse_date
from console.db import db
from console.db.models import AuditEvent, Role, User
from console.fhir.models import FHIR_ID
from console.nhs_number import format_nhs_number, looks_like_nhs_number, normalise, problem
from console.templating import DISPLAY_TIMEZONE
from console.web import keyset
from console.web.query import parse_id

PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50
# What each recorded action means, for people reading the log (and the filter's suggestions);
# any action can still be typed, or a prefix such as "auth.".
_OTHER_ACTION_LABELS: dict[str, str] = {
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
    "auth.step_up": "Identity confirmed again (step-up)",
    "access.denied": "Page or form refused (missing permission)",
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
    "user.export": "User list exported",
    "user.reset_demo_admin": "Demo administrator given a new password",
    "user.update": "User details changed",
}
# (the account actions on users name their own events: console.admin.users.actions)
ACTION_LABELS: dict[str, str] = dict(sorted((_OTHER_ACTION_LABELS | USER_ACTION_LABELS).items()))
KNOWN_ACTIONS = tuple(ACTION_LABELS)


def action_label(action: str) -> str:
    """A readable name for an audit action; the code itself when it has none."""
    return ACTION_LABELS.get(action, action)


# Readable names for the keys of an event's details; an unlisted key is shown with its
# underscores as spaces.
DETAIL_LABELS: dict[str, str] = {
    "bytes": "Size (bytes)",
    "client_address": "Client address",
    "count": "Number",
    "criteria": "Searched for",
    "dir": "Direction",
    "ehr_id": "EHR id",
    "error": "Problem",
    "failures": "Failed attempts",
    "filename": "File name",
    "filter": "Filter",
    "filters": "Filters",
    "kind": "Search by",
    "last_reason": "Last reason",
    "locked_until": "Locked until",
    "method": "Method",
    "other_sessions_ended": "Other sessions ended",
    "page": "Page",
    "reason": "Reason",
    "remaining": "Recovery codes left",
    "removed_by": "Removed by",
    "replaced_previous": "Replaced earlier set-up",
    "required_action": "Required action",
    "results": "Results",
    "session": "Session",
    "session_client_address": "Session's client address",
    "sessions_ended": "Sessions ended",
    "sort": "Sort",
    "started": "Started",
    "username": "Username typed",
    "version": "Version",
    "wait_seconds": "Wait (seconds)",
}


def detail_label(key: str) -> str:
    """A readable name for a details key."""
    return DETAIL_LABELS.get(key) or key.replace("_", " ").capitalize()


def detail_text(value: Any) -> str:
    """A details value as plain text: nested values as ``Label: value`` pairs, lists joined."""
    if value is None:
        return "Not known"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, dict):
        return "; ".join(f"{detail_label(str(k))}: {detail_text(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(detail_text(item) for item in value)
    return str(value)


def detail_rows(event: AuditEvent) -> list[tuple[str, str]]:
    """(label, text) for every entry of an event's details."""
    details = event.details if isinstance(event.details, dict) else {}
    return [(detail_label(str(key)), detail_text(value)) for key, value in details.items()]


def attempted_username(event: AuditEvent) -> str:
    """The username typed for a sign-in by nobody signed in, as recorded ("" when none)."""
    if event.actor_id is not None:
        return ""
    if event.actor_username:
        return event.actor_username
    details = event.details if isinstance(event.details, dict) else {}
    for key in ("attempted_username", "username"):
        value = details.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def patient_label(event: AuditEvent) -> str:
    """``SMITH, Zara (NHS No. 943 476 5919)`` as recorded at view time; the FHIR id otherwise."""
    parts = []
    if event.patient_name:
        parts.append(event.patient_name)
    if event.patient_nhs_number:
        parts.append(f"NHS No. {format_nhs_number(event.patient_nhs_number)}")
    if not parts:
        return f"Patient {event.patient_id}" if event.patient_id else ""
    if len(parts) == 2:
        return f"{parts[0]} ({parts[1]})"
    return parts[0]


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


def _patient_text(text: str) -> str:
    """An NHS number typed in any spacing is shown back as ``943 476 5919``."""
    if looks_like_nhs_number(text) and problem(text) is None:
        return format_nhs_number(text)
    return text


def parse_view(args: Mapping[str, str]) -> AuditView:
    """The viewer's state from request arguments."""
    outcome = _text(args, "outcome")
    per_page = _text(args, "per_page")
    return AuditView(
        filter=AuditFilter(
            actor=_text(args, "actor").lower(),
            action=_text(args, "action", 64).lower(),
            target_user=_text(args, "target_user").lower(),
            patient=_patient_text(_text(args, "patient", 128)),
            outcome=outcome if outcome in OUTCOMES else "",
            since=_text(args, "since", 20),
            until=_text(args, "until", 20),
        ),
        per_page=size if (size := parse_id(per_page)) in PAGE_SIZES else DEFAULT_PAGE_SIZE,
        after=args.get("after") or None,
        before=args.get("before") or None,
    )


def parse_time(text: str, *, end_of_day: bool = False) -> datetime | None:
    """A UTC time from a day (``31-01-2026``, ``2026-01-31`` or another form people type) or
    ``YYYY-MM-DDTHH:MM``, read as UK time like the times shown; None when empty or invalid."""
    if not text:
        return None
    day = parse_date(text)
    try:
        if day is not None:
            day = day + timedelta(days=1) if end_of_day else day
            return datetime.combine(day, time.min, tzinfo=DISPLAY_TIMEZONE).astimezone(UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=DISPLAY_TIMEZONE)
    moment = moment.astimezone(UTC)
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
        stmt, patient_error = _patient_condition(stmt, audit_filter.patient)
        if patient_error:
            errors["patient"] = patient_error
    if audit_filter.outcome:
        stmt = stmt.where(AuditEvent.outcome == audit_filter.outcome)
    since = parse_time(audit_filter.since)
    if audit_filter.since and since is None:
        errors["since"] = "Enter a date as day-month-year, like 31-01-2026."
    until = parse_time(audit_filter.until, end_of_day=True)
    if audit_filter.until and until is None:
        errors["until"] = "Enter a date as day-month-year, like 31-01-2026."
    if since and until and since >= until:
        errors["until"] = "The end of the period must be after its start."
    if since:
        stmt = stmt.where(AuditEvent.occurred_at >= since)
    if until:
        stmt = stmt.where(AuditEvent.occurred_at < until)
    return (None if errors else stmt), errors


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _patient_condition(stmt: Select[Any], text: str) -> tuple[Select[Any], str]:
    """Narrow to one patient: an NHS number (ten digits, or digits spaced as one; validated),
    else a FHIR record id (such as ``1285``) or a name.

    Every word of a name must appear in the recorded banner name, in any case and order.
    """
    if looks_like_nhs_number(text) and not (FHIR_ID.match(text) and len(normalise(text)) != 10):
        message = problem(text)
        if message:
            return stmt, message
        return stmt.where(AuditEvent.patient_nhs_number == normalise(text)), ""
    words = text.replace(",", " ").split()
    by_name = [
        func.lower(AuditEvent.patient_name).like(f"%{_like_escaped(word.lower())}%", escape="\\")
        for word in words
    ]
    return stmt.where(
        or_(AuditEvent.patient_id == text, *([] if not by_name else [and_(*by_name)]))
    ), ""


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
        """``Full Name (username)`` of the actor; for a sign-in by nobody signed in, the
        username typed; else "System"."""
        if event.actor_id is None:
            attempted = attempted_username(event)
            return f"{attempted} (sign-in attempt)" if attempted else "System"
        if event.actor_display_name:  # the name at the time of the event
            return event.actor_display_name
        username, full_name = self.users.get(
            event.actor_id, (event.actor_username or f"user #{event.actor_id}", "")
        )
        return f"{full_name} ({username})" if full_name else username

    def target(self, event: AuditEvent) -> str:
        """The target as a name where one is known (as it was at the time of the event)."""
        if event.target_display_name:
            return event.target_display_name
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
    "Patient NHS number",
    "Patient name",
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
                format_nhs_number(event.patient_nhs_number) if event.patient_nhs_number else "",
                event.patient_name or "",
                event.client_address,
                event.request_id,
                json.dumps(event.before, sort_keys=True) if event.before is not None else "",
                json.dumps(event.after, sort_keys=True) if event.after is not None else "",
                json.dumps(event.details, sort_keys=True) if event.details is not None else "",
            ]


PATIENT_ACCESS_ACTIONS = ("patient.view", "letter.list", "letter.view")


@dataclass(frozen=True)
class PatientAccess:
    """One recorded look at a patient's record, for "Who has viewed this record"."""

    occurred_at: datetime
    who: str
    what: str
    outcome: str


def recent_patient_accesses(patient_id: str, limit: int = 5) -> list[PatientAccess]:
    """The latest views of a patient's record and letters, newest first (one indexed query)."""
    events = db.session.scalars(
        keyset.ordered(
            select(AuditEvent).where(
                AuditEvent.patient_id == patient_id,
                AuditEvent.action.in_(PATIENT_ACCESS_ACTIONS),
            ),
            SPEC,
        ).limit(limit)
    ).all()
    names = resolve_names(events)
    return [
        PatientAccess(
            event.occurred_at, names.actor(event), action_label(event.action), event.outcome
        )
        for event in events
    ]
