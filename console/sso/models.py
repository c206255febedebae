"""Links between console users and identities at the identity provider, and the roles that
the role mapping (rather than an administrator) granted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from console.db import AuthBase
from console.db.models import User, UTCDateTime, utcnow


class SsoIdentity(AuthBase):
    """A user's identity at an issuer, keyed by the issuer and its ``sub``.

    A row without a subject is an administrator's pre-approval: the first sign-in from this
    issuer whose e-mail matches the user's fills the subject in; nothing else links by e-mail.
    """

    __tablename__ = "sso_identities"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    issuer: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str | None] = mapped_column(String(255))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    linked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(foreign_keys=[user_id])

    __table_args__ = (
        UniqueConstraint("issuer", "subject", name="uq_sso_identities_issuer_subject"),
        UniqueConstraint("user_id", "issuer", name="uq_sso_identities_user_issuer"),
    )


class SsoRoleGrant(AuthBase):
    """A role the mapping granted to a user: removed again when the claim no longer grants it."""

    __tablename__ = "sso_role_grants"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role_id: Mapped[int] = mapped_column(
        ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SsoLogoutToken(AuthBase):
    """A back-channel logout token already accepted, kept until it would be refused as
    expired anyway, so that the same token is refused when it comes again."""

    __tablename__ = "sso_logout_tokens"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    """SHA-256 (hex) of the issuer and the token's ``jti``."""
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
