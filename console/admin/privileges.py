"""Administrative power never grows by one's own hand.

An actor may assign a role only when it holds every non-clinical permission the role grants
(clinical permissions may be granted by any holder of ``users.manage``); a holder of
``roles.manage`` may add to a role only the non-clinical permissions it holds itself; nobody
changes their own roles. Refusals are ``Refused`` errors: shown on the form, audited as denied.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask_login import current_user

from console.admin.services import Refused
from console.auth.stepup import require_fresh
from console.db.models import Role, User
from console.permissions import ADMIN_PERMISSIONS, CLINICAL_PERMISSIONS


def _actor() -> User:
    return current_user._get_current_object()  # type: ignore[attr-defined,no-any-return]


def _beyond(actor: User, permissions: Iterable[str]) -> list[str]:
    """The non-clinical permissions among ``permissions`` that the actor does not hold."""
    return sorted(set(permissions) - CLINICAL_PERMISSIONS - actor.permissions)


def check_role_assignment(
    roles: Iterable[Role], *, action: str, target_id: int | None, field: str = "roles"
) -> None:
    """Refuse assigning a role whose administrative permissions the actor does not all hold;
    ask for step-up re-authentication before granting administrative permissions."""
    actor = _actor()
    roles = list(roles)
    if any(ADMIN_PERMISSIONS & set(role.permission_names) for role in roles):
        require_fresh()  # granting administrative power needs a recent re-authentication
    for role in roles:
        missing = _beyond(actor, role.permission_names)
        if missing:
            raise Refused(
                field,
                f"You cannot assign the role “{role.name}”: it grants "
                f"{', '.join(missing)}, which you do not hold yourself.",
                action=action,
                target_type="user",
                target_id=target_id,
                details={"role": role.name, "missing": missing},
            )


def check_not_own_roles(user_ids: Iterable[int], *, action: str, field: str = "roles") -> None:
    """Refuse a change of roles that includes the actor's own account."""
    actor = _actor()
    if actor.id in set(user_ids):
        raise Refused(
            field,
            "You cannot change your own roles; ask another administrator.",
            action=action,
            target_type="user",
            target_id=actor.id,
        )


def check_permission_grant(
    added: Iterable[str], *, action: str, target_id: int | None, role_name: str
) -> None:
    """Refuse adding to a role an administrative permission the actor does not hold."""
    missing = _beyond(_actor(), added)
    if missing:
        raise Refused(
            "permissions",
            f"You cannot add {', '.join(missing)} to a role: you do not hold "
            f"{'it' if len(missing) == 1 else 'them'} yourself.",
            action=action,
            target_type="role",
            target_id=target_id,
            details={"role": role_name, "missing": missing},
        )
