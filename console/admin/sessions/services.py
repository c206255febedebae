"""Sessions across the console: list the live ones, end one or all of a user's.

A session is a ``user_sessions`` row; deleting the row signs that browser out on its next
request (the sign-in code treats a missing row as signed out).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from console.admin.services import NotFound, transaction
from console.audit import record_event
from console.auth import sessions as auth_sessions
from console.db import db
from console.db.models import User, UserSession, utcnow
from console.web import keyset

PER_PAGE = 50


@dataclass(frozen=True)
class SessionFilter:
    """Which live sessions to show: all, or one user's (by username)."""

    username: str = ""
    after: str | None = None
    before: str | None = None

    def as_query(self, **changes: str | None) -> dict[str, str]:
        values = {"user": self.username, "after": self.after, "before": self.before} | changes
        return {k: v for k, v in values.items() if v}


def parse_filter(args: Mapping[str, str]) -> SessionFilter:
    """The sessions view from request arguments."""
    return SessionFilter(
        username=(args.get("user") or "").strip().lower()[:150],
        after=args.get("after") or None,
        before=args.get("before") or None,
    )


SPEC = keyset.SortSpec(
    column=UserSession.last_seen_at,  # type: ignore[arg-type]
    id_column=UserSession.id,  # type: ignore[arg-type]
    descending=True,
)


@dataclass
class SessionPage:
    """Live sessions, newest activity first; ``user`` is set when filtered by a known user."""

    page: keyset.KeysetPage
    user: User | None
    unknown_user: bool


def list_sessions(view: SessionFilter, now: datetime | None = None) -> SessionPage:
    """One page of live sessions (expiry in the future)."""
    now = now or utcnow()
    stmt = (
        select(UserSession)
        .where(UserSession.expires_at > now, UserSession.user_id.is_not(None))
        .options(joinedload(UserSession.user))
    )
    user = None
    if view.username:
        user = db.session.scalar(select(User).where(User.username == view.username))
        if user is None:
            return SessionPage(keyset.KeysetPage([], None, None), None, True)
        stmt = stmt.where(UserSession.user_id == user.id)
    page = keyset.fetch_page(stmt, SPEC, PER_PAGE, after=view.after, before=view.before)
    return SessionPage(page, user, False)


def live_session_count(user_id: int, now: datetime | None = None) -> int:
    """How many live sessions the user has."""
    stmt = select(func.count()).where(
        UserSession.user_id == user_id, UserSession.expires_at > (now or utcnow())
    )
    return db.session.scalar(stmt) or 0


def end_session(session_id: str) -> User:
    """End one session; the user it belonged to."""
    with transaction():
        row = db.session.get(UserSession, session_id)
        if row is None or row.user is None:
            raise NotFound("That session has already ended.")
        user = row.user
        details = {
            "session": session_id[:8],
            "started": row.created_at.isoformat(timespec="seconds"),
            "client_address": row.client_address,
        }
        auth_sessions.end_session(session_id)
        record_event("session.end", target_type="user", target_id=user.id, details=details)
        return user
