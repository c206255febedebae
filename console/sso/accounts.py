"""Who an ID token's claims belong to, and what their roles are.

An identity is linked by issuer and ``sub`` only. E-mail links an account only when an
administrator pre-approved it (an ``SsoIdentity`` row without a subject) and the token's
e-mail matches the account's. Unknown people get an account only when the setting allows.
Roles from the mapping are re-applied at every sign-in; roles granted by hand stay.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from console.admin.users.accounts import AccountError, create_user
from console.appsettings import get_setting
from console.audit import record_event
from console.auth import clock
from console.db import db
from console.db.models import Role, User
from console.sso.mapping import claim_values, mapped_roles, parse_role_mapping
from console.sso.models import SsoIdentity, SsoRoleGrant

SSO_ONLY_PASSWORD_HASH = "!single-sign-on"  # noqa: S105 (never a valid argon2 hash)
MFA_AMR_VALUES = frozenset({"mfa"})
"""``amr`` values (RFC 8176) that mean the provider checked more than one factor."""
MFA_ACR_VALUES = frozenset({"AAL2_ANY", "AAL3_ANY", "AAL2", "AAL3"})
"""``acr`` values that mean it too (NHS CIS2 authentication assurance levels)."""


class SignInRefused(Exception):
    """The person cannot sign in: ``message`` for them, ``reason`` for the audit log."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(reason)
        self.message = message
        self.reason = reason


UNKNOWN_PERSON = (
    "Your account is not set up in the console yet. Ask an administrator to give you access."
)
DISABLED = "Your console account is disabled. Ask an administrator if you need access."


@dataclass(frozen=True)
class RoleChange:
    """One role the mapping added or removed."""

    role: str
    added: bool
    claim_values: tuple[str, ...]


def identity_of(user_id: int) -> SsoIdentity | None:
    """The user's identity-provider link (or pre-approval), if any."""
    return db.session.scalar(select(SsoIdentity).where(SsoIdentity.user_id == user_id))


def _claimed_email(claims: Mapping[str, Any]) -> str | None:
    email = claims.get("email")
    if not isinstance(email, str) or not email.strip() or claims.get("email_verified") is False:
        return None
    return email.strip().lower()


def _link_pre_approved(issuer: str, subject: str, email: str | None) -> User | None:
    if email is None:
        return None
    row = db.session.scalar(
        select(SsoIdentity)
        .join(User, User.id == SsoIdentity.user_id)
        .where(SsoIdentity.issuer == issuer, SsoIdentity.subject.is_(None), User.email == email)
    )
    if row is None:
        return None
    row.subject = subject
    row.linked_at = clock.now()
    record_event(
        "sso.identity_linked",
        target_type="user",
        target_id=row.user_id,
        actor=row.user,
        details={"issuer": issuer, "subject": subject, "how": "pre-approved e-mail match"},
    )
    return row.user


def _username_for(claims: Mapping[str, Any], email: str) -> str:
    wanted = claims.get("preferred_username")
    base = (wanted if isinstance(wanted, str) and wanted.strip() else email).strip().lower()[:140]
    username = base
    while db.session.scalar(select(User.id).where(User.username == username)) is not None:
        username = f"{base}-{secrets.randbelow(10000):04d}"
    return username


def _create_from_claims(issuer: str, subject: str, claims: Mapping[str, Any]) -> User:
    email = _claimed_email(claims)
    if email is None:
        raise SignInRefused(UNKNOWN_PERSON, "no verified e-mail to create an account with")
    name = claims.get("name")
    try:
        user = create_user(
            username=_username_for(claims, email),
            email=email,
            full_name=name if isinstance(name, str) else "",
            password=secrets.token_urlsafe(24),
            role_names=[],
            must_change_password=False,
            audit_action="sso.user_created",
        )
    except AccountError as exc:
        raise SignInRefused(UNKNOWN_PERSON, f"could not create the account: {exc}") from None
    user.password_hash = SSO_ONLY_PASSWORD_HASH
    db.session.add(
        SsoIdentity(user_id=user.id, issuer=issuer, subject=subject, linked_at=clock.now())
    )
    return user


def find_or_create_user(issuer: str, claims: Mapping[str, Any]) -> User:
    """The console user these validated claims belong to; raises ``SignInRefused``.

    Stages links and new accounts in the current transaction (the caller commits).
    """
    subject = str(claims["sub"])
    identity = db.session.scalar(
        select(SsoIdentity).where(SsoIdentity.issuer == issuer, SsoIdentity.subject == subject)
    )
    user = identity.user if identity is not None else None
    if user is None:
        user = _link_pre_approved(issuer, subject, _claimed_email(claims))
    if user is None:
        if not get_setting("sso.create_unknown_users"):
            raise SignInRefused(UNKNOWN_PERSON, "no linked account")
        user = _create_from_claims(issuer, subject, claims)
    if not user.active:
        raise SignInRefused(DISABLED, "disabled")
    linked = identity or identity_of(user.id)
    if linked is not None:
        linked.last_sign_in_at = clock.now()
    return user


def apply_role_mapping(user: User, claims: Mapping[str, Any]) -> list[RoleChange]:
    """Add the roles the claims map to and remove those the mapping granted before but no
    longer does; each change audited with the claim. Roles granted by hand are not touched."""
    claim = str(get_setting("sso.roles_claim"))
    try:
        mapping = parse_role_mapping(str(get_setting("sso.role_mapping")))
    except ValueError:
        mapping = {}
    wanted = mapped_roles(claim_values(claims, claim), mapping)
    roles = {r.name: r for r in db.session.scalars(select(Role).where(Role.name.in_(wanted)))}
    grants = {
        g.role_id: g
        for g in db.session.scalars(select(SsoRoleGrant).where(SsoRoleGrant.user_id == user.id))
    }
    held = {role.id for role in user.roles}
    changes: list[RoleChange] = []
    for name, values in wanted.items():
        role = roles.get(name)
        if role is None or role.id in held:
            continue
        user.roles.append(role)
        db.session.add(SsoRoleGrant(user_id=user.id, role_id=role.id))
        changes.append(RoleChange(name, True, tuple(values)))
    wanted_ids = {role.id for role in roles.values()}
    for role_id, grant in grants.items():
        if role_id in wanted_ids:
            continue
        role = db.session.get(Role, role_id)
        if role is not None and role in user.roles:
            user.roles.remove(role)
            changes.append(RoleChange(role.name, False, ()))
        db.session.delete(grant)
    for change in changes:
        record_event(
            "sso.role_added" if change.added else "sso.role_removed",
            target_type="user",
            target_id=user.id,
            actor=user,
            details={
                "role": change.role,
                "claim": claim,
                "claim_values": list(change.claim_values),
                "reason": "granted by the claim" if change.added else "no longer in the claim",
            },
        )
    return changes


def idp_mfa(claims: Mapping[str, Any]) -> bool:
    """True when the provider says the sign-in used more than one factor."""
    amr = claims.get("amr")
    if isinstance(amr, list) and MFA_AMR_VALUES & {str(v) for v in amr}:
        return True
    return str(claims.get("acr") or "") in MFA_ACR_VALUES


def password_sign_in_refused(user: User) -> bool:
    """True when the user is linked to the identity provider and may not use a password."""
    if get_setting("sso.allow_local_password"):
        return False
    identity = identity_of(user.id)
    return identity is not None and identity.subject is not None


# --- administration -----------------------------------------------------------------------


def link(user: User, issuer: str, subject: str, actor_id: int | None) -> None:
    """Link the user to ``subject`` at ``issuer`` (replacing any earlier link); audited."""
    subject = subject.strip()
    taken = db.session.scalar(
        select(SsoIdentity).where(SsoIdentity.issuer == issuer, SsoIdentity.subject == subject)
    )
    if taken is not None and taken.user_id != user.id:
        raise ValueError("That identity is already linked to another user.")
    row = identity_of(user.id)
    before = {"subject": row.subject} if row else None
    if row is None:
        row = SsoIdentity(user_id=user.id, issuer=issuer)
        db.session.add(row)
    row.issuer, row.subject, row.linked_at, row.approved_by_id = (
        issuer,
        subject,
        clock.now(),
        actor_id,
    )
    record_event(
        "sso.identity_linked",
        target_type="user",
        target_id=user.id,
        before=before,
        after={"issuer": issuer, "subject": subject},
        details={"how": "linked by an administrator"},
    )


def pre_approve(user: User, issuer: str, actor_id: int | None) -> None:
    """Let the first sign-in from ``issuer`` with the user's e-mail link the account; audited."""
    if identity_of(user.id) is not None:
        raise ValueError("The user already has a link or a pre-approval; remove it first.")
    db.session.add(SsoIdentity(user_id=user.id, issuer=issuer, approved_by_id=actor_id))
    record_event(
        "sso.link_pre_approved",
        target_type="user",
        target_id=user.id,
        details={"issuer": issuer, "email": user.email},
    )


def unlink(user: User) -> bool:
    """Remove the user's link or pre-approval; False when there was none. Audited."""
    row = identity_of(user.id)
    if row is None:
        return False
    record_event(
        "sso.identity_unlinked",
        target_type="user",
        target_id=user.id,
        before={"issuer": row.issuer, "subject": row.subject},
    )
    db.session.delete(row)
    return True
