"""Models of the auth database (SQLAlchemy 2 typed ORM).

Usernames and e-mail addresses are stored lower-case, so plain unique constraints give
case-insensitive uniqueness on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    and_,
)
from sqlalchemy.ext.hybrid import hybrid_method
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement

from console.db import AuthBase

BigId = BigInteger().with_variant(Integer, "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every database (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use datetime.now(UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


class UserRole(AuthBase):
    """Membership of a user in a role."""

    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role_id: Mapped[int] = mapped_column(
        ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class User(AuthBase):
    """A person who signs in to the console."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="", index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True, index=True)

    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    totp_last_used_step: Mapped[int | None] = mapped_column(BigInteger)

    failed_login_count: Mapped[int] = mapped_column(Integer, default=0)
    last_failed_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    must_enrol_totp: Mapped[bool] = mapped_column(Boolean, default=False)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set while the password is a temporary one an administrator gave out (it then expires).
    temporary_password_set_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    roles: Mapped[list[Role]] = relationship(
        secondary="user_roles", back_populates="users", order_by="Role.name"
    )

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        # Keyset paging of the users list by creation time.
        Index("ix_users_created_at_id", "created_at", "id"),
        # Substring search over username, e-mail and name: a trigram GIN index on PostgreSQL
        # (pg_trgm); SQLite gets a plain index and scans.
        Index(
            "ix_users_search_trgm",
            "username",
            "email",
            "full_name",
            postgresql_using="gin",
            postgresql_ops={
                "username": "gin_trgm_ops",
                "email": "gin_trgm_ops",
                "full_name": "gin_trgm_ops",
            },
        ),
    )

    @property
    def is_active(self) -> bool:
        """Flask-Login: a disabled user cannot sign in or keep a session."""
        return self.active

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)

    @property
    def permissions(self) -> frozenset[str]:
        """Every permission granted by the user's roles."""
        return frozenset(p.permission for role in self.roles for p in role.permissions)

    def has_permission(self, permission: str) -> bool:
        """True when one of the user's roles grants ``permission``."""
        return permission in self.permissions

    @hybrid_method
    def is_locked(self, now: datetime | None = None) -> bool:
        """True while a temporary lockout is in force; on the class, the same rule as a SQL
        condition (``select(User).where(User.is_locked(now))``)."""
        return self.locked_until is not None and self.locked_until > (now or utcnow())

    @is_locked.inplace.expression
    @classmethod
    def _is_locked_expression(cls, now: datetime | None = None) -> ColumnElement[bool]:
        return and_(cls.locked_until.is_not(None), cls.locked_until > (now or utcnow()))


class Role(AuthBase):
    """A named, editable set of permissions."""

    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    permissions: Mapped[list[RolePermission]] = relationship(
        back_populates="role", cascade="all, delete-orphan", order_by="RolePermission.permission"
    )
    users: Mapped[list[User]] = relationship(secondary="user_roles", back_populates="roles")

    __mapper_args__ = {"version_id_col": version}

    @property
    def permission_names(self) -> list[str]:
        """The role's permissions, sorted."""
        return [p.permission for p in self.permissions]


class RolePermission(AuthBase):
    """One permission of the fixed catalogue granted by a role."""

    __tablename__ = "role_permissions"

    role_id: Mapped[int] = mapped_column(
        ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True
    )
    permission: Mapped[str] = mapped_column(String(64), primary_key=True)

    role: Mapped[Role] = relationship(back_populates="permissions")


class UserSession(AuthBase):
    """A server-side session; the cookie carries an opaque token whose hash is the id."""

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    client_address: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(512))

    user: Mapped[User | None] = relationship()


class RecoveryCode(AuthBase):
    """A one-time TOTP recovery code, stored hashed."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AppSetting(AuthBase):
    """A typed application setting changed from the settings page."""

    __tablename__ = "app_settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(16))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    updated_by: Mapped[User | None] = relationship()

    __mapper_args__ = {"version_id_col": version}


class AuditEvent(AuthBase):
    """One append-only audit record (updates and deletes are refused by a trigger)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    actor_username: Mapped[str | None] = mapped_column(String(150))
    # Names at the time of the event ("Full Name (username)"), so renaming an account does not
    # relabel its history; the ids stay the keys.
    actor_display_name: Mapped[str | None] = mapped_column(String(400))
    target_display_name: Mapped[str | None] = mapped_column(String(400))
    action: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16), default="success")
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(128))
    patient_id: Mapped[str | None] = mapped_column(String(128))
    # The patient as the banner showed them when the record was viewed (FHIR may change later).
    patient_nhs_number: Mapped[str | None] = mapped_column(String(10))
    patient_name: Mapped[str | None] = mapped_column(String(200))
    request_id: Mapped[str | None] = mapped_column(String(64))
    client_address: Mapped[str | None] = mapped_column(String(45))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    actor: Mapped[User | None] = relationship()

    __table_args__ = (
        Index("ix_audit_events_actor_time", "actor_id", "occurred_at"),
        Index("ix_audit_events_action_time", "action", "occurred_at"),
        Index("ix_audit_events_patient_time", "patient_id", "occurred_at"),
        Index("ix_audit_events_patient_nhs_number_time", "patient_nhs_number", "occurred_at"),
        Index("ix_audit_events_target", "target_type", "target_id"),
    )
