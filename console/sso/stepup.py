"""Step-up confirmation at the identity provider, for users who sign in with it.

A user linked to the provider confirms it is them by signing in there again (``prompt=login``,
``max_age=0``) instead of typing a console password they may not have. The answer counts only
when it names this user's own identity (issuer and ``sub``) and its ``auth_time`` shows a sign-in
made after the request was sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import current_app
from sqlalchemy import select

from console.appsettings import get_setting
from console.audit import record_event
from console.auth import clock, stepup
from console.db import db
from console.db.models import User
from console.sso import provider
from console.sso.accounts import SSO_ONLY_PASSWORD_HASH
from console.sso.models import SsoIdentity

FLOW_KEY = "_sso_step_up"
"""The session's note of a confirmation under way: where to go back to, who asked, when."""
LEEWAY_SECONDS = 60
"""How far the provider's clock may be behind the console's."""
NOT_CONFIRMED = (
    "That did not confirm it is you: sign in at your organisation again as yourself, "
    "or use your console password."
)


def linked_identity(user: User) -> SsoIdentity | None:
    """The user's linked identity at the configured provider, or None."""
    idp = provider.client()
    if idp is None:
        return None
    return db.session.scalar(
        select(SsoIdentity).where(
            SsoIdentity.user_id == user.id,
            SsoIdentity.subject.is_not(None),
            SsoIdentity.issuer == current_app.config["SETTINGS"].OIDC_ISSUER,
        )
    )


def offer(user: User) -> dict[str, Any] | None:
    """What the step-up page offers a linked user: the button's label, and whether the user has
    no console password (then the provider is the only way); None for other users."""
    if linked_identity(user) is None:
        return None
    return {
        "label": str(get_setting("sso.button_label")),
        "only": user.password_hash == SSO_ONLY_PASSWORD_HASH,
    }


def begin(user: User, next_path: str) -> dict[str, Any]:
    """The note to keep in the session while the provider is asked."""
    return {"next": next_path, "user_id": user.id, "asked_at": clock.now().timestamp()}


def refusal(user: User, flow: Mapping[str, Any], claims: Mapping[str, Any]) -> str | None:
    """Why the provider's answer does not confirm ``user`` (None when it does)."""
    if flow.get("user_id") != user.id:
        return "started by another user"
    identity = linked_identity(user)
    if identity is None:
        return "no linked identity"
    if claims.get("iss") != identity.issuer or claims.get("sub") != identity.subject:
        return "another identity at the provider"
    auth_time = claims.get("auth_time")
    asked_at = flow.get("asked_at")
    if not isinstance(auth_time, int | float) or isinstance(auth_time, bool):
        return "no auth_time: the sign-in may not be fresh"
    if not isinstance(asked_at, int | float) or auth_time < asked_at - LEEWAY_SECONDS:
        return "not a fresh sign-in at the provider"
    return None


def finish(user: User, reason: str | None) -> bool:
    """Audit the outcome (and remember a success for the step-up window). Commits."""
    details: dict[str, Any] = {"method": "single sign-on"}
    if reason is not None:
        details["reason"] = reason
    record_event(
        "auth.step_up",
        outcome="success" if reason is None else "failure",
        target_type="user",
        target_id=user.id,
        details=details,
    )
    db.session.commit()
    if reason is None:
        stepup.mark_confirmed()
    return reason is None
