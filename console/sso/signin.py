"""The callback's work: turn Authlib's outcome into a console sign-in, or a refusal that the
person sees in general words and the audit log records exactly."""

from __future__ import annotations

from typing import Any

import requests
from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
from joserfc import errors as jose

from console.audit import record_event
from console.db import db
from console.sso.provider import OidcApp, ProviderUnavailable, metadata

GENERIC_FAILURE = "Signing in with your organisation account did not work. Try again."
UNREACHABLE = (
    "Your organisation's sign-in service cannot be reached just now. Try again shortly, "
    "or sign in with your console username and password if you have them."
)

# Token validation failures, most specific first: the audit log's reason for each.
_JOSE_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (jose.BadSignatureError, "bad signature"),
    (jose.UnsupportedAlgorithmError, "algorithm not allowed"),
    (jose.MissingAlgorithmError, "algorithm not allowed"),
    (jose.InvalidKeyIdError, "unknown signing key"),
    (jose.ExpiredTokenError, "expired"),
    (jose.InvalidTokenError, "not yet valid"),
    (jose.DecodeError, "malformed token"),
)


class CallbackFailed(Exception):
    """The callback did not yield valid claims: ``message`` for the person, ``reason`` for the
    audit log."""

    def __init__(self, reason: str, message: str = GENERIC_FAILURE) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message = message


def failure_reason(exc: Exception) -> str:
    """The audit log's words for why a token (or the exchange) was refused."""
    if isinstance(exc, MismatchingStateError):
        return "state missing, mismatched or already used"
    if isinstance(exc, jose.MissingClaimError):
        return f"missing claim: {getattr(exc, 'claim', exc.error)}"
    if isinstance(exc, jose.InvalidClaimError):
        return f"invalid claim: {getattr(exc, 'claim', exc.error)}"
    for kind, reason in _JOSE_REASONS:
        if isinstance(exc, kind):
            return reason
    if isinstance(exc, jose.JoseError):
        return f"token refused: {exc.error}"
    if isinstance(exc, OAuthError):
        return f"identity provider error: {exc.error or 'unknown'}"
    return f"token refused: {type(exc).__name__}"


def _claims_options(idp: OidcApp) -> dict[str, Any]:
    """The issuer and audience every ID token must carry: Authlib checks the audience only
    when told to (otherwise an ``azp`` naming the console would pass a token for another
    client)."""
    return {
        "iss": {"essential": True, "value": metadata(idp)["issuer"]},
        "aud": {"essential": True, "value": idp.client_id},
    }


def exchange_code(idp: OidcApp) -> dict[str, Any]:
    """Authlib's code exchange and ID token validation; the validated claims.

    Raises ``CallbackFailed`` for every refusal, naming the reason.
    """
    try:
        token = idp.authorize_access_token(claims_options=_claims_options(idp))
    except (ProviderUnavailable, requests.RequestException) as exc:
        raise CallbackFailed(
            f"identity provider unreachable: {type(exc).__name__}", UNREACHABLE
        ) from None
    except (MismatchingStateError, OAuthError, jose.JoseError, ValueError) as exc:
        raise CallbackFailed(failure_reason(exc)) from None
    claims = token.get("userinfo")
    if not claims:
        raise CallbackFailed("no ID token in the token response")
    return {**dict(claims), "_id_token": token.get("id_token", "")}


def audit_failure(reason: str, **details: Any) -> None:
    """Record a refused single sign-on attempt; commits."""
    record_event("sso.sign_in", outcome="failure", details={"reason": reason[:300], **details})
    db.session.commit()
