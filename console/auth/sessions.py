"""Server-side sessions: an opaque random token in the cookie, a row in ``user_sessions``.

A row is written only once someone signs in. Before that (the sign-in form's CSRF token, the
pending code step, flashed messages) the session lives in a separate signed cookie
(``quill_pre_session``, HttpOnly, 12 hours at most), so anonymous visits cost no database
write and cannot grow the table; sign-in drops that cookie and starts a row with a new token.

Why a ``SessionInterface`` of our own rather than Flask-Session's SQLAlchemy backend:
Flask-Session keys its rows by the cookie value itself, so anyone who can read the table holds
live cookies, and it knows nothing of users, so "end every session of this user", a list of a
user's sessions with their address and browser, and idle plus absolute timeouts would all have
to be built around it anyway. Here the cookie carries a 256-bit random token and the table only
its SHA-256 hash; each row names its user, so ending a session is deleting its row (which is
what the administration pages do) and the next request with that cookie is anonymous.

Flask-Login still provides ``current_user``, ``login_user`` and ``logout_user``. Its user loader
(``load_session_user``) accepts only the user recorded in this request's server-side session, and
re-checks the stored state on every request: a disabled user, or one whose password has changed
since the session began, loses the session there and then. Flask-Login's own session protection
(IP and browser fingerprint) is off: it would rewrite anonymous sessions on every request and
adds nothing to a random server-side token that is rotated at sign-in.

The cookie has no expiry (it dies with the browser), is ``HttpOnly`` and ``SameSite=Lax``, and
over HTTPS is ``Secure`` with the ``__Host-`` prefix. Rows expire after the idle timeout (measured
from ``last_seen_at``, refreshed at most once a minute, or a quarter of a short idle timeout, to
avoid a write per request) or the absolute timeout (from sign-in), both from settings. A request that finds its session expired
or no longer allowed goes on anonymous at once; the row is deleted, and the ending audited, when
the session is saved (by then the request has its id for the audit trail). Other expired rows,
anonymous ones included, are removed in batches as new sessions start (at most once per
``PURGE_INTERVAL`` per process) and by ``flask sessions purge-expired``. A signed cookie
(``quill_session_times``) repeats the row's id, start and ``last_seen_at`` whenever they are
written, so a browser whose expired row has already been removed is still told why.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, Request, g, request, session
from flask.sessions import SecureCookieSession, SessionInterface, session_json_serializer
from itsdangerous import BadSignature, URLSafeSerializer, URLSafeTimedSerializer
from sqlalchemy import Text, bindparam, cast, delete, select, update
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import joinedload
from werkzeug.wrappers import Response

from console.appsettings import get_setting
from console.audit import record_event
from console.auth import clock
from console.db import db
from console.db.models import Role, User, UserSession
from console.errors import is_outage

COOKIE_NAME = "quill_session"
SECURE_COOKIE_NAME = "__Host-quill_session"
# Before sign-in (the sign-in form's CSRF token, the pending code step, flashed messages) the
# session lives in a signed cookie of its own: anonymous visits write nothing to the database.
ANONYMOUS_COOKIE_NAME = "quill_pre_session"
SECURE_ANONYMOUS_COOKIE_NAME = "__Host-quill_pre_session"
ANONYMOUS_MAX_AGE = timedelta(hours=12)
# A signed-in session's start and last activity as its browser last heard them, signed: once
# the row has gone (the clean-up removes expired rows), this still proves that the session
# expired, and why, so the sign-in page can say so.
TIMES_COOKIE_NAME = "quill_session_times"
SECURE_TIMES_COOKIE_NAME = "__Host-quill_session_times"
TOUCH_INTERVAL = timedelta(seconds=60)
PURGE_INTERVAL = timedelta(minutes=5)
PURGE_BATCH = 500
ID_CHUNK = 500
USER_KEY = "_user_id"
CREDENTIALS_KEY = "_credentials"
FLASHES_KEY = "_flashes"
_TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")

EXPIRY_MESSAGES = {
    "idle": "You were signed out after {idle} of inactivity. Sign in again.",
    "absolute": "Your session reached its time limit of {absolute}. Sign in again.",
}
ENDED_MESSAGE = "Your session has ended. Sign in again."
# Why a session was ended by someone: the message its browser sees at the next sign-in page.
ENDED_BY_MESSAGES = {
    "administrator": "Your session was ended by an administrator. Sign in again.",
    "yourself": "You ended this session from another browser or device. Sign in again.",
}


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}{'' if count == 1 else 's'}"


def expiry_message(reason: str) -> str:
    """What the sign-in page says after a session expired (``"idle"`` or ``"absolute"``)."""
    return EXPIRY_MESSAGES[reason].format(
        idle=_plural(get_setting("security.idle_timeout_minutes"), "minute"),
        absolute=_plural(get_setting("security.absolute_timeout_hours"), "hour"),
    )


def hash_token(token: str) -> str:
    """The stored id of a cookie token (SHA-256, hex)."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def credentials_marker(user: User) -> str:
    """A short fingerprint of the user's password hash: it changes whenever the password does."""
    return hashlib.sha256(b"credentials:" + user.password_hash.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Timeouts:
    """How long a session may stay unused, and how long it may last at all."""

    idle: timedelta
    absolute: timedelta

    @classmethod
    def from_settings(cls) -> Timeouts:
        """The timeouts in force now."""
        return cls(
            idle=timedelta(minutes=get_setting("security.idle_timeout_minutes")),
            absolute=timedelta(hours=get_setting("security.absolute_timeout_hours")),
        )

    def expiry_reason(self, created_at: datetime, last_seen_at: datetime, now: datetime) -> str:
        """``"absolute"``, ``"idle"`` or ``""`` when the session is still good."""
        if now - created_at >= self.absolute:
            return "absolute"
        if now - last_seen_at >= self.idle:
            return "idle"
        return ""

    def expires_at(self, created_at: datetime, last_seen_at: datetime) -> datetime:
        """When a session seen at ``last_seen_at`` ends if nothing happens."""
        return min(last_seen_at + self.idle, created_at + self.absolute)


@dataclass(frozen=True)
class Ending:
    """A stored session found dead during a request (expired, or its user may no longer use
    it): its row is deleted and the audit event written when the request's session is saved,
    in one transaction, by which time the request has its id for the audit trail."""

    sid: str
    user_id: int | None
    action: str
    reason: str


class ServerSession(SecureCookieSession):
    """The session of one request, backed by a ``user_sessions`` row once it holds anything."""

    def __init__(
        self,
        initial: dict[str, Any] | None = None,
        *,
        sid: str | None = None,
        created_at: datetime | None = None,
        last_seen_at: datetime | None = None,
        stored_user_id: int | None = None,
        had_cookie: bool = False,
        skip: bool = False,
    ) -> None:
        super().__init__(initial)
        self.sid = sid
        self.created_at = created_at
        self.last_seen_at = last_seen_at
        self.stored_user_id = stored_user_id
        self.had_cookie = had_cookie
        self.skip = skip
        self.rotate = False
        self.restart = False
        self.endings: list[Ending] = []
        # The stored user loaded with the row, held so that it stays in the ORM identity map
        # (which keeps only weak references) until the user loader checks it.
        self.loaded_user: User | None = None

    def regenerate(self, *, new_sign_in: bool = False) -> None:
        """Give this session a new id at the end of the request; the old one stops working.

        ``new_sign_in`` also restarts the absolute timeout (at sign-in); otherwise (password or
        two-factor changes) the session keeps the time it began.
        """
        self.rotate = True
        self.restart = self.restart or new_sign_in
        self.modified = True


# A session row with its user, and the user's roles and permissions, in one query (built once):
# the user loader finds the user in the identity map (and still checks it) instead of asking again.
_SESSION_WITH_USER = (
    select(
        UserSession.user_id,
        cast(UserSession.data, Text).label("data"),
        UserSession.created_at,
        UserSession.last_seen_at,
        User,
    )
    .outerjoin(User, User.id == UserSession.user_id)
    .options(joinedload(User.roles).joinedload(Role.permissions))
    .where(UserSession.id == bindparam("sid"))
)


class ServerSessionInterface(SessionInterface):
    """Loads and stores ``ServerSession`` objects in the auth database."""

    serializer = session_json_serializer

    def __init__(self) -> None:
        self.last_purge: datetime | None = None

    def get_cookie_name(self, app: Flask) -> str:
        """``__Host-quill_session`` over HTTPS, ``quill_session`` otherwise."""
        return SECURE_COOKIE_NAME if self.get_cookie_secure(app) else COOKIE_NAME

    def get_cookie_domain(self, app: Flask) -> str | None:
        """Never a Domain attribute (the ``__Host-`` prefix forbids one)."""
        return None

    def get_cookie_path(self, app: Flask) -> str:
        """Always ``/``."""
        return "/"

    def anonymous_cookie_name(self, app: Flask) -> str:
        """The signed cookie that holds a session before sign-in."""
        secure = self.get_cookie_secure(app)
        return SECURE_ANONYMOUS_COOKIE_NAME if secure else ANONYMOUS_COOKIE_NAME

    def times_cookie_name(self, app: Flask) -> str:
        """The signed cookie that remembers a signed-in session's times."""
        secure = self.get_cookie_secure(app)
        return SECURE_TIMES_COOKIE_NAME if secure else TIMES_COOKIE_NAME

    def _times_signer(self, app: Flask) -> URLSafeSerializer:
        return URLSafeSerializer(
            app.secret_key,  # type: ignore[arg-type]
            salt="quill-session-times",
            signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha256},
        )

    def _set_times(
        self, app: Flask, response: Response, sid: str, created_at: datetime, seen_at: datetime
    ) -> None:
        """Tell the browser its session's times (whenever the row's ``last_seen_at`` changes)."""
        times = {"sid": sid, "created": created_at.timestamp(), "seen": seen_at.timestamp()}
        response.set_cookie(
            self.times_cookie_name(app),
            self._times_signer(app).dumps(times),
            path="/",
            secure=self.get_cookie_secure(app),
            httponly=True,
            samesite=self.get_cookie_samesite(app),
        )

    def _expired_by_times(self, app: Flask, request: Request, sid: str) -> str:
        """Why the session ``sid``, whose row has gone, had expired (``"idle"``,
        ``"absolute"``) by the times its signed cookie proves; ``""`` when they do not show it
        expired (or there is no such cookie): then it ended some other way, and nothing is said."""
        value = request.cookies.get(self.times_cookie_name(app))
        if not value:
            return ""
        try:
            times = self._times_signer(app).loads(value)
            if times["sid"] != sid:
                return ""
            created_at = datetime.fromtimestamp(float(times["created"]), UTC)
            seen_at = datetime.fromtimestamp(float(times["seen"]), UTC)
        except (BadSignature, KeyError, TypeError, ValueError, OverflowError):
            return ""
        return Timeouts.from_settings().expiry_reason(created_at, seen_at, clock.now())

    def _anonymous_signer(self, app: Flask) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(
            app.secret_key,  # type: ignore[arg-type]
            salt="quill-anonymous-session",
            serializer=self.serializer,
            signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha256},
        )

    def _anonymous_data(self, app: Flask, request: Request) -> dict[str, Any]:
        """What the signed pre-sign-in cookie holds (nothing when absent, forged or old)."""
        value = request.cookies.get(self.anonymous_cookie_name(app))
        if not value:
            return {}
        try:
            data = self._anonymous_signer(app).loads(
                value, max_age=int(ANONYMOUS_MAX_AGE.total_seconds())
            )
        except BadSignature:
            return {}
        return data if isinstance(data, dict) and USER_KEY not in data else {}

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        """The session named by the cookie, or a new empty one (expired rows are removed)."""
        static = app.static_url_path
        if static and request.path.startswith(static + "/"):
            return ServerSession(skip=True)
        token = request.cookies.get(self.get_cookie_name(app))
        if not token:
            return ServerSession(self._anonymous_data(app, request))
        if not _TOKEN_PATTERN.fullmatch(token):
            return ServerSession(self._anonymous_data(app, request), had_cookie=True)
        try:
            return self._load(app, request, token, self._anonymous_data(app, request))
        except SQLAlchemyError as exc:
            db.session.rollback()
            app.logger.exception("could not read the session; treating the request as anonymous")
            if isinstance(exc, DBAPIError) and is_outage(exc):
                g.auth_database_error = exc  # answered with the database-down page
            return ServerSession(skip=True)

    def _load(
        self, app: Flask, request: Request, token: str, anonymous: dict[str, Any]
    ) -> ServerSession:
        sid = hash_token(token)
        row = db.session.execute(_SESSION_WITH_USER, {"sid": sid}).unique().first()
        if row is None:
            gone = ServerSession(anonymous, had_cookie=True)
            reason = self._expired_by_times(app, request, sid)
            if reason:  # expired, and its row already removed by the clean-up
                gone[FLASHES_KEY] = [("info", expiry_message(reason))]
            return gone
        now = clock.now()
        reason = Timeouts.from_settings().expiry_reason(row.created_at, row.last_seen_at, now)
        if reason:
            fresh = ServerSession(anonymous, had_cookie=True)
            fresh.endings.append(Ending(sid, row.user_id, "auth.session_expired", reason))
            if row.user_id is not None:
                fresh[FLASHES_KEY] = [("info", expiry_message(reason))]
            return fresh
        data = self.serializer.loads(row.data) if row.data else {}
        loaded = ServerSession(
            data,
            sid=sid,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
            stored_user_id=row.user_id,
            had_cookie=True,
        )
        loaded.loaded_user = row.User
        return loaded

    def save_session(self, app: Flask, session: ServerSession, response: Response) -> None:  # type: ignore[override]
        """Write what changed: a new row (and cookie), the data, or a throttled ``last_seen_at``."""
        if session.skip:
            return
        if session.accessed:
            response.vary.add("Cookie")
        try:
            self._save(app, session, response)
        except SQLAlchemyError:
            db.session.rollback()
            raise

    def _save(self, app: Flask, session: ServerSession, response: Response) -> None:
        now = clock.now()
        name = self.get_cookie_name(app)
        _record_endings(session)
        if session.rotate and session.sid is not None:
            db.session.execute(delete(UserSession).where(UserSession.id == session.sid))
            session.sid = None
        if session.sid is None:
            if _user_id_of(session) is None:  # not signed in: no row, the signed cookie
                if session.had_cookie:
                    self._delete_cookie(app, response, name)
                    self._delete_cookie(app, response, self.times_cookie_name(app))
                self._save_anonymous(app, session, response)
                db.session.commit()
                return
            self._insert(app, session, response, now)
            if request.cookies.get(self.anonymous_cookie_name(app)):
                self._delete_cookie(app, response, self.anonymous_cookie_name(app))
            return
        timeouts = Timeouts.from_settings()
        created_at = session.created_at or now
        if session.modified:
            if not session:
                db.session.execute(delete(UserSession).where(UserSession.id == session.sid))
                self._delete_cookie(app, response, name)
                self._delete_cookie(app, response, self.times_cookie_name(app))
            else:
                db.session.execute(
                    update(UserSession)
                    .where(UserSession.id == session.sid)
                    .values(
                        data=self._encode(session),
                        user_id=_user_id_of(session),
                        last_seen_at=now,
                        expires_at=timeouts.expires_at(created_at, now),
                    )
                )
                if _user_id_of(session) is not None:
                    self._set_times(app, response, session.sid, created_at, now)
        elif _due_for_touch(session, now, timeouts):
            db.session.execute(
                update(UserSession)
                .where(UserSession.id == session.sid)
                .values(
                    last_seen_at=now,
                    expires_at=timeouts.expires_at(created_at, now),
                    client_address=_client_address(),
                )
            )
            if _user_id_of(session) is not None:
                self._set_times(app, response, session.sid, created_at, now)
        db.session.commit()

    def _delete_cookie(self, app: Flask, response: Response, name: str) -> None:
        response.delete_cookie(
            name,
            path="/",
            secure=self.get_cookie_secure(app),
            httponly=True,
            samesite=self.get_cookie_samesite(app),
        )

    def _save_anonymous(self, app: Flask, session: ServerSession, response: Response) -> None:
        """Keep a session without a user in the signed cookie (or drop the cookie when empty)."""
        name = self.anonymous_cookie_name(app)
        if not session:
            if request.cookies.get(name):
                self._delete_cookie(app, response, name)
            return
        if not session.modified and request.cookies.get(name):
            return
        response.set_cookie(
            name,
            self._anonymous_signer(app).dumps(dict(session)),
            path="/",
            secure=self.get_cookie_secure(app),
            httponly=True,
            samesite=self.get_cookie_samesite(app),
        )

    def _insert(
        self, app: Flask, session: ServerSession, response: Response, now: datetime
    ) -> None:
        token = secrets.token_urlsafe(32)
        sid = hash_token(token)
        created_at = now if session.restart or session.created_at is None else session.created_at
        db.session.add(
            UserSession(
                id=sid,
                user_id=_user_id_of(session),
                data=self._encode(session),
                created_at=created_at,
                last_seen_at=now,
                expires_at=Timeouts.from_settings().expires_at(created_at, now),
                client_address=_client_address(),
                user_agent=(request.user_agent.string or "")[:512] or None,
            )
        )
        db.session.commit()
        session.sid, session.created_at, session.last_seen_at = sid, created_at, now
        session.rotate = session.restart = False
        response.set_cookie(
            self.get_cookie_name(app),
            token,
            path="/",
            secure=self.get_cookie_secure(app),
            httponly=True,
            samesite=self.get_cookie_samesite(app),
        )
        self._set_times(app, response, sid, created_at, now)
        self._purge_now_and_then(app, now)

    def _purge_now_and_then(self, app: Flask, now: datetime) -> None:
        """Remove a batch of expired rows (signed-in and anonymous alike, and of each
        ``add_housekeeping`` table) when a new session starts, at most once per
        ``PURGE_INTERVAL`` per process, or again at the next new session while batches come
        back full (catching up); a failure only logs."""
        if self.last_purge is not None and now - self.last_purge < PURGE_INTERVAL:
            return
        self.last_purge = now
        try:
            removed = purge_expired_rows(app, PURGE_BATCH)
            db.session.commit()
        except SQLAlchemyError:
            db.session.rollback()
            app.logger.exception("could not remove expired sessions")
            return
        if max(removed.values()) >= PURGE_BATCH:
            self.last_purge = None

    def _encode(self, session: ServerSession) -> dict[str, Any]:
        return json.loads(self.serializer.dumps(dict(session)))


def _due_for_touch(session: ServerSession, now: datetime, timeouts: Timeouts) -> bool:
    """Whether saving this unmodified session refreshes ``last_seen_at`` (throttled)."""
    return session.last_seen_at is None or now - session.last_seen_at >= min(
        TOUCH_INTERVAL, timeouts.idle / 4
    )


def seconds_left() -> int | None:
    """How long this request's signed-in session lives after this request if nothing else
    happens (the idle or the absolute timeout, whichever comes first); None without one."""
    current = current_session()
    if current is None or current.sid is None or current.created_at is None:
        return None
    now = clock.now()
    timeouts = Timeouts.from_settings()
    seen = now if current.modified or _due_for_touch(current, now, timeouts) else None
    expires = timeouts.expires_at(current.created_at, seen or current.last_seen_at or now)
    return max(0, int((expires - now).total_seconds()))


def keep_alive() -> int | None:
    """Refresh this session's idle timeout now; the seconds it then has left."""
    current = current_session()
    if current is None or current.sid is None:
        return None
    current.modified = True
    return seconds_left()


def _record_endings(session: ServerSession) -> None:
    """Delete the rows of sessions found dead in this request and audit each (not committed)."""
    for ending in session.endings:
        gone = db.session.execute(delete(UserSession).where(UserSession.id == ending.sid))
        user = db.session.get(User, ending.user_id) if ending.user_id is not None else None
        if user is not None and gone.rowcount:  # type: ignore[attr-defined]
            record_event(
                ending.action,
                target_type="user",
                target_id=user.id,
                actor=user,
                details={"reason": ending.reason},
            )
    session.endings.clear()


def _user_id_of(session: ServerSession) -> int | None:
    value = session.get(USER_KEY)
    return int(value) if isinstance(value, str) and value.isdigit() else None


def _client_address() -> str | None:
    return (request.remote_addr or "")[:45] or None


def current_session() -> ServerSession | None:
    """This request's server-side session (None outside one, e.g. for static files)."""
    current = session._get_current_object()  # type: ignore[attr-defined]
    return current if isinstance(current, ServerSession) and not current.skip else None


def current_session_id() -> str | None:
    """The stored id of this request's session, when it has a row."""
    current = current_session()
    return current.sid if current is not None else None


def load_session_user(user_id: str) -> User | None:
    """Flask-Login's user loader: the session's user, only while the stored state allows it.

    The user must be the one recorded on this request's session row (so nothing but a live
    server-side session can sign anyone in), still active, and have the password the session
    was opened with; otherwise the session ends here, audited.
    """
    current = current_session()
    if (
        current is None
        or current.sid is None
        or current.get(USER_KEY) != user_id
        or not user_id.isdigit()
        or current.stored_user_id != int(user_id)
    ):
        return None
    # Normally already loaded with the session row; otherwise the user, their roles and the
    # roles' permissions in one query (every request checks a permission and draws the
    # navigation from them).
    user = db.session.get(
        User, int(user_id), options=[joinedload(User.roles).joinedload(Role.permissions)]
    )
    if user is None:
        end_current_session(None, reason="user deleted")
        return None
    if not user.active:
        end_current_session(user, reason="user disabled")
        return None
    if current.get(CREDENTIALS_KEY) != credentials_marker(user):
        end_current_session(user, reason="password changed")
        return None
    return user


def end_current_session(user: User | None, *, reason: str) -> None:
    """End this request's session: the request goes on anonymous at once; the row is deleted and
    the ending audited when the session is saved at the end of the request."""
    current = current_session()
    if current is None:
        return
    if current.sid is not None:
        ending = Ending(current.sid, user.id if user else None, "auth.session_ended", reason)
        current.endings.append(ending)
    current.clear()
    current.sid = current.created_at = None
    current[FLASHES_KEY] = [("info", ENDED_MESSAGE)]


def start_signed_in_session(user: User) -> None:
    """Prepare this request's session for a user who has just signed in: everything from before
    sign-in is dropped (including the CSRF token) and the session gets a new id."""
    current = current_session()
    if current is None:
        raise RuntimeError("no server-side session in this request")
    current.clear()
    current.regenerate(new_sign_in=True)
    _forget_csrf_token()


def mark_credentials(user: User) -> None:
    """Record the user's current password on the session (after sign-in or a password change)."""
    current = current_session()
    if current is not None:
        current[CREDENTIALS_KEY] = credentials_marker(user)


def rotate_session() -> None:
    """Give this request's session a new id (after a password or two-factor change)."""
    current = current_session()
    if current is not None:
        current.regenerate()


def sign_out_session() -> None:
    """Drop everything in this session and its row; what remains is a fresh anonymous session."""
    current = current_session()
    if current is None:
        return
    current.clear()
    current.regenerate(new_sign_in=True)
    _forget_csrf_token()


def _forget_csrf_token() -> None:
    g.pop("csrf_token", None)


def list_sessions(user_id: int | None = None) -> list[UserSession]:
    """Live sessions of one user (or of everyone), most recently used first."""
    now = clock.now()
    query = select(UserSession).where(
        UserSession.expires_at > now, UserSession.user_id.is_not(None)
    )
    if user_id is not None:
        query = query.where(UserSession.user_id == user_id)
    return list(db.session.scalars(query.order_by(UserSession.last_seen_at.desc())))


def _ended_by(ended_by: str) -> dict[str, Any]:
    """What an ended session's row keeps: no user, nothing of its data, only the message its
    browser is shown at the sign-in page (so the row is an anonymous session from then on)."""
    return {
        "user_id": None,
        "data": {FLASHES_KEY: [["info", ENDED_BY_MESSAGES[ended_by]]]},
    }


def end_session(
    session_id: str, *, user_id: int | None = None, ended_by: str = "administrator"
) -> bool:
    """End one signed-in session (only of ``user_id`` when given); True when there was one.

    The row loses its user and data at once (the cookie signs nobody in any more) and keeps
    only the sign-in page's message saying who ended it (``ENDED_BY_MESSAGES``)."""
    query = (
        update(UserSession)
        .where(UserSession.id == session_id, UserSession.user_id.is_not(None))
        .values(**_ended_by(ended_by))
    )
    if user_id is not None:
        query = query.where(UserSession.user_id == user_id)
    return bool(db.session.execute(query).rowcount)


def end_user_sessions(
    user_id: int, *, keep_session_id: str | None = None, ended_by: str = "administrator"
) -> int:
    """End every session of a user (except ``keep_session_id``); returns how many."""
    return end_sessions_of_users([user_id], keep_session_id=keep_session_id, ended_by=ended_by)


def end_sessions_of_users(
    user_ids: Iterable[int], *, keep_session_id: str | None = None, ended_by: str = "administrator"
) -> int:
    """End every session of these users (except ``keep_session_id``), in chunks so any number
    of users fits one statement's parameter limit; returns how many. The caller audits and
    commits. Each browser is signed out on its next request, and told who ended it."""
    ids = list(user_ids)
    ended = 0
    for start in range(0, len(ids), ID_CHUNK):
        query = (
            update(UserSession)
            .where(UserSession.user_id.in_(ids[start : start + ID_CHUNK]))
            .values(**_ended_by(ended_by))
        )
        if keep_session_id is not None:
            query = query.where(UserSession.id != keep_session_id)
        result = db.session.execute(query, execution_options={"synchronize_session": False})
        ended += result.rowcount or 0  # type: ignore[attr-defined]
    return ended


def purge_expired_sessions(limit: int = PURGE_BATCH) -> int:
    """Remove up to ``limit`` rows past their expiry, signed-in and anonymous, auditing each
    user's session as expired; returns how many. The caller commits. Rows another console
    instance is purging at the same moment are skipped (PostgreSQL), so none is audited twice."""
    now = clock.now()
    timeouts = Timeouts.from_settings()
    rows = db.session.execute(
        select(
            UserSession.id,
            UserSession.user_id,
            UserSession.created_at,
            UserSession.last_seen_at,
            UserSession.client_address,
        )
        .where(UserSession.expires_at <= now)
        .order_by(UserSession.expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if not rows:
        return 0
    users = {
        u.id: u
        for u in db.session.scalars(
            select(User).where(User.id.in_({r.user_id for r in rows if r.user_id is not None}))
        )
    }
    for row in rows:
        user = users.get(row.user_id) if row.user_id is not None else None
        if user is not None:
            reason = timeouts.expiry_reason(row.created_at, row.last_seen_at, now) or "idle"
            record_event(
                "auth.session_expired",
                target_type="user",
                target_id=user.id,
                actor=user,
                details={
                    "reason": reason,
                    "removed_by": "cleanup",
                    "session_client_address": row.client_address,
                },
                from_request=False,
            )
    db.session.execute(delete(UserSession).where(UserSession.id.in_([r.id for r in rows])))
    return len(rows)


HOUSEKEEPING_EXTENSION = "quill_session_housekeeping"
SESSIONS_LABEL = "expired session"


def add_housekeeping(app: Flask, label: str, purge: Callable[[int], int]) -> None:
    """Run ``purge(limit)`` whenever expired sessions are purged (as new sessions start, and
    by ``flask sessions purge-expired``): it removes up to ``limit`` expired rows of a table
    that lives as long as sessions do and returns how many. ``label`` names one such row."""
    app.extensions.setdefault(HOUSEKEEPING_EXTENSION, {})[label] = purge


def purge_expired_rows(app: Flask, limit: int = PURGE_BATCH) -> dict[str, int]:
    """Remove up to ``limit`` expired sessions and as many expired rows of each
    ``add_housekeeping`` table; how many of each, by label. The caller commits."""
    removed = {SESSIONS_LABEL: purge_expired_sessions(limit)}
    for label, purge in app.extensions.get(HOUSEKEEPING_EXTENSION, {}).items():
        removed[label] = purge(limit)
    return removed


EXPIRES_IN_HEADER = "X-Session-Expires-In"


def init_app(app: Flask) -> None:
    """Install the server-side sessions; every signed-in answer says how long the session has
    left (the page's idle-timeout warning restarts its countdown from it after htmx requests)."""
    app.session_interface = ServerSessionInterface()

    @app.after_request
    def _expires_in(response: Response) -> Response:
        current = current_session()
        if current is not None and _user_id_of(current) is not None:
            left = seconds_left()
            if left is not None:
                response.headers[EXPIRES_IN_HEADER] = str(left)
        return response


__all__ = [
    "ServerSession",
    "ServerSessionInterface",
    "Timeouts",
    "add_housekeeping",
    "current_session_id",
    "end_session",
    "end_sessions_of_users",
    "end_user_sessions",
    "list_sessions",
    "load_session_user",
    "purge_expired_rows",
    "purge_expired_sessions",
    "rotate_session",
]
