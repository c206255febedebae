"""OpenID Connect Back-Channel Logout: the provider POSTs a signed ``logout_token``; the
console validates it (signature against the provider's key set, issuer, audience, times, the
logout event, no nonce, a ``sid`` or ``sub``) and ends the matching sessions at once. Each
accepted token's ``jti`` is remembered (in the auth database, so every worker sees it) until the
token would be refused as expired anyway; the same token sent again is refused as a replay.

A console session signed in through the provider keeps ``SESSION_KEY`` in its data: issuer,
``sub``, the provider's session id (``sid``) and the ID token (for the logout hint).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from joserfc import jwt
from joserfc.errors import InvalidKeyIdError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from console.audit import record_event
from console.auth import clock
from console.db import db
from console.db.models import UserSession
from console.sso.models import SsoIdentity, SsoLogoutToken
from console.sso.provider import OidcApp, metadata

SESSION_KEY = "_sso"
LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LEEWAY_SECONDS = 120
MAX_AGE_SECONDS = 600


ID_TOKEN_COOKIE_LIMIT = 2500
"""The longest ID token a sign-in waiting for the console's code keeps: it waits in a cookie,
which browsers drop beyond 4 KB. A longer one is left out, and the provider's logout is then
asked with the client id instead of the ID token hint."""


def session_marker(issuer: str, claims: Mapping[str, Any]) -> dict[str, Any]:
    """What a console session signed in through the provider keeps (``SESSION_KEY``)."""
    return {
        "iss": issuer,
        "sub": str(claims["sub"]),
        "sid": claims.get("sid"),
        "id_token": str(claims.get("_id_token") or ""),
    }


def for_a_cookie(marker: Mapping[str, Any]) -> dict[str, Any]:
    """``marker`` small enough to wait in the pre-sign-in cookie (``ID_TOKEN_COOKIE_LIMIT``)."""
    if len(str(marker.get("id_token") or "")) <= ID_TOKEN_COOKIE_LIMIT:
        return dict(marker)
    return {**marker, "id_token": ""}


class InvalidLogoutToken(Exception):
    """The logout token was refused; the message names why (for the audit log only)."""


class ReplayedLogoutToken(InvalidLogoutToken):
    """A logout token accepted before (the same issuer and ``jti``) came again."""


def _decode(idp: OidcApp, token: str) -> jwt.Token:
    document = metadata(idp)
    registry = JWSRegistry(algorithms=document["id_token_signing_alg_values_supported"])
    try:
        return jwt.decode(token, KeySet.import_key_set(idp.fetch_jwk_set()), registry=registry)
    except InvalidKeyIdError:
        keys = KeySet.import_key_set(idp.fetch_jwk_set(force=True))
        return jwt.decode(token, keys, registry=registry)


def validate_logout_token(idp: OidcApp, token: str) -> dict[str, Any]:
    """The token's claims when it is a valid logout token for this client; raises
    ``InvalidLogoutToken`` (or a ``joserfc`` error) otherwise."""
    from joserfc.errors import JoseError

    try:
        decoded = _decode(idp, token)
        registry = jwt.JWTClaimsRegistry(
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": metadata(idp)["issuer"]},
            aud={"essential": True, "value": idp.client_id},
            iat={"essential": True},
            jti={"essential": True},
        )
        registry.validate(decoded.claims)
    except JoseError as exc:
        raise InvalidLogoutToken(f"{type(exc).__name__}: {exc.error}") from None
    claims = decoded.claims
    events = claims.get("events")
    if not isinstance(events, Mapping) or LOGOUT_EVENT not in events:
        raise InvalidLogoutToken("no back-channel logout event")
    if "nonce" in claims:
        raise InvalidLogoutToken("a logout token must not carry a nonce")
    if not claims.get("sid") and not claims.get("sub"):
        raise InvalidLogoutToken("neither sid nor sub")
    if not isinstance(claims.get("jti"), str) or not claims["jti"]:
        raise InvalidLogoutToken("jti is not a non-empty string")
    if clock.now().timestamp() - float(claims["iat"]) > MAX_AGE_SECONDS + LEEWAY_SECONDS:
        raise InvalidLogoutToken("issued too long ago")
    return dict(claims)


def refused_after(claims: Mapping[str, Any]) -> datetime:
    """When ``validate_logout_token`` starts refusing the token as expired or stale."""
    limits = [float(claims["iat"]) + MAX_AGE_SECONDS + LEEWAY_SECONDS]
    expiry = claims.get("exp")
    if isinstance(expiry, int | float) and not isinstance(expiry, bool):
        limits.append(float(expiry) + LEEWAY_SECONDS)
    return datetime.fromtimestamp(min(limits), UTC)


def _token_key(issuer: str, jti: str) -> str:
    return hashlib.sha256(f"{issuer}\n{jti}".encode()).hexdigest()


def remember_token(issuer: str, claims: Mapping[str, Any]) -> None:
    """Record the token's ``jti`` as used, first in the transaction (nothing else may be
    pending); raises ``ReplayedLogoutToken`` (after a rollback) when it was used before. Two
    workers given the same token at once cannot both pass: the second waits on the first's
    row and then finds it."""
    db.session.add(
        SsoLogoutToken(id=_token_key(issuer, str(claims["jti"])), expires_at=refused_after(claims))
    )
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise ReplayedLogoutToken("replayed: this jti was accepted before") from None


def purge_expired_tokens(limit: int) -> int:
    """Forget up to ``limit`` remembered tokens past their expiry; how many (caller commits)."""
    expired = (
        select(SsoLogoutToken.id)
        .where(SsoLogoutToken.expires_at <= clock.now())
        .order_by(SsoLogoutToken.expires_at)
        .limit(limit)
    )
    ids = list(db.session.scalars(expired))
    if not ids:
        return 0
    db.session.execute(delete(SsoLogoutToken).where(SsoLogoutToken.id.in_(ids)))
    return len(ids)


def end_matching_sessions(issuer: str, claims: Mapping[str, Any]) -> int:
    """Delete the console sessions the logout token names; audited (the caller commits)."""
    sid = claims.get("sid")
    sub = claims.get("sub")
    ended = 0
    query = select(UserSession.id, UserSession.user_id, UserSession.data).where(
        UserSession.user_id.is_not(None)
    )
    if sub:
        users = select(SsoIdentity.user_id).where(
            SsoIdentity.issuer == issuer, SsoIdentity.subject == str(sub)
        )
        query = query.where(UserSession.user_id.in_(users))
    for session_id, user_id, data in db.session.execute(query).all():
        marker = (data or {}).get(SESSION_KEY)
        if not isinstance(marker, Mapping) or marker.get("iss") != issuer:
            continue
        if sid and marker.get("sid") != sid:
            continue
        if sub and marker.get("sub") != sub:
            continue
        db.session.execute(delete(UserSession).where(UserSession.id == session_id))
        ended += 1
        record_event(
            "auth.session_ended",
            target_type="user",
            target_id=user_id,
            details={"reason": "back-channel logout from the identity provider"},
        )
    return ended
