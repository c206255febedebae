"""The account actions an administrator takes on users: one entry per action.

Each entry says everything about its action: its words (button, confirmation, messages, the
audit log's label), the permission it needs, which users it applies to, what it changes and how
the change is audited. The user page, the bulk panel, the bulk service and the audit log all
read this table; a new action is one new entry (and, for a one-user-only action, its effect).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_, true

from console.admin.users import services
from console.db.models import Role, User, UserRole

Pending = Callable[[Role | None], ColumnElement[bool]]
"""The SQL condition matching the users an action would change (the others already are as
asked); given the role for role actions."""


@dataclass(frozen=True)
class UserAction:
    """One account action."""

    key: str
    label: str
    """The bulk menu's option and the audit-free name of the action."""
    button: str
    """The user page's button."""
    title: str
    """The confirmation's heading."""
    text: str
    """What it does, on the confirmation."""
    audit_action: str
    audit_label: str
    done: str
    """The message after doing it to one user (``{username}``; ``{count}`` for end-sessions)."""
    unchanged: str
    """The message when the user needed no change."""
    available: Callable[[User, datetime], bool]
    """Whether the user page offers it for this user now."""
    permission: str = "users.manage"
    bulk_title: str | None = None
    """``Disable {count}``: the bulk confirmation (``{count}`` users, ``{role}``); None when
    the action is for one user at a time only."""
    bulk_done: str | None = None
    """``Disabled {count}.``: the message after a bulk change."""
    pending: Pending | None = None
    values: Mapping[str, Any] = field(default_factory=dict)
    """The columns a bulk change sets on each user."""
    audit_change: tuple[dict[str, Any], dict[str, Any]] | None = None
    """(before, after) recorded for each user; None for role actions (their roles are)."""
    needs_role: bool = False
    guarded: bool = False
    """The last-administrator guard checks the result (it can remove administrators)."""
    ends_sessions: bool = False
    effect: Callable[[int, str | None], object] | None = None
    """What it does to one user (given the typed password, for a password reset); None for the
    bulk actions, whose bulk change is applied to the one user. Returns False (or 0) when
    nothing needed changing."""
    refused_on_oneself: str | None = None
    """Why an administrator may not take it on their own account (not offered there)."""
    warning: bool = False
    """It takes something away (access, a credential, sessions, the account): its buttons are
    styled as a warning."""

    @property
    def slug(self) -> str:
        """The action's part of the user page's action URL (``require-password-change``)."""
        return self.key.replace("_", "-")

    @property
    def bulk(self) -> bool:
        """True when it can be applied to many users at once."""
        return self.bulk_title is not None


def _is_member(role: Role | None) -> ColumnElement[bool]:
    assert role is not None
    return exists().where(UserRole.user_id == User.id, UserRole.role_id == role.id)


def _always(_user: User, _now: datetime) -> bool:
    return True


USER_ACTIONS: tuple[UserAction, ...] = (
    UserAction(
        "disable",
        label="Disable",
        button="Disable user",
        title="Disable this user",
        text="They are signed out everywhere and cannot sign in until enabled again.",
        audit_action="user.disable",
        audit_label="User disabled",
        done="Disabled {username} and ended their sessions.",
        unchanged="{username} was already disabled.",
        available=lambda user, _now: bool(user.active),
        bulk_title="Disable {count}",
        bulk_done="Disabled {count}.",
        pending=lambda _role: User.active.is_(true()),
        values={"active": False},
        audit_change=({"active": True}, {"active": False}),
        guarded=True,
        ends_sessions=True,
        warning=True,
    ),
    UserAction(
        "enable",
        label="Enable",
        button="Enable user",
        title="Enable this user",
        text="They can sign in again with their current password.",
        audit_action="user.enable",
        audit_label="User enabled",
        done="Enabled {username}.",
        unchanged="{username} was already enabled.",
        available=lambda user, _now: not user.active,
        bulk_title="Enable {count}",
        bulk_done="Enabled {count}.",
        pending=lambda _role: User.active.is_not(true()),
        values={"active": True},
        audit_change=({"active": False}, {"active": True}),
    ),
    UserAction(
        "unlock",
        label="Unlock",
        button="Unlock",
        title="Unlock this user",
        text="Clears the failed sign-in count and any temporary lockout.",
        audit_action="user.unlock",
        audit_label="User unlocked by an administrator",
        done="Unlocked {username}.",
        unchanged="{username} was not locked.",
        available=lambda user, _now: user.locked_until is not None or bool(user.failed_login_count),
        bulk_title="Unlock {count}",
        bulk_done="Unlocked {count}.",
        pending=lambda _role: or_(
            User.locked_until.is_not(None),
            User.failed_login_count > 0,
            User.last_failed_login_at.is_not(None),
        ),
        values={"failed_login_count": 0, "locked_until": None, "last_failed_login_at": None},
        audit_change=({"locked": True}, {"locked": False}),
    ),
    UserAction(
        "require_password_change",
        label="Require password change",
        button="Require password change",
        title="Require a password change",
        text="They must choose a new password the next time they sign in.",
        audit_action="user.password_change_required",
        audit_label="Password change required at next sign-in",
        done="{username} must change their password at next sign-in.",
        unchanged="{username} already had to change their password.",
        available=lambda user, _now: not user.must_change_password,
        bulk_title="Require a password change for {count}",
        bulk_done="Required a password change for {count}.",
        pending=lambda _role: User.must_change_password.is_not(true()),
        values={"must_change_password": True},
        audit_change=({"must_change_password": False}, {"must_change_password": True}),
    ),
    UserAction(
        "require_totp",
        label="Require two-factor set-up",
        button="Require two-factor",
        title="Require two-factor set-up",
        text="They must set up an authenticator app before they can do anything else: at "
        "their next sign-in, or on their next page if they are signed in now.",
        audit_action="user.totp_required",
        audit_label="Two-factor set-up required at next sign-in",
        done="{username} must set up two-factor before doing anything else.",
        unchanged="{username} already has or must set up two-factor.",
        available=lambda user, _now: not user.totp_enabled and not user.must_enrol_totp,
        bulk_title="Require two-factor set-up for {count}",
        bulk_done="Required two-factor set-up for {count}.",
        # users who already have an authenticator need nothing
        pending=lambda _role: and_(
            User.must_enrol_totp.is_not(true()), User.totp_enabled.is_not(true())
        ),
        values={"must_enrol_totp": True},
        audit_change=({"must_enrol_totp": False}, {"must_enrol_totp": True}),
    ),
    UserAction(
        "withdraw_totp",
        label="Withdraw the two-factor set-up requirement",
        button="Withdraw two-factor requirement",
        title="Withdraw the two-factor set-up requirement",
        text="They no longer have to set up an authenticator app before doing anything "
        "else. Where the settings require two-factor for administrators, that still applies.",
        audit_action="user.totp_requirement_withdrawn",
        audit_label="Two-factor set-up no longer required",
        done="{username} no longer has to set up two-factor.",
        unchanged="{username} did not have to set up two-factor.",
        available=lambda user, _now: bool(user.must_enrol_totp),
        bulk_title="Withdraw the two-factor set-up requirement for {count}",
        bulk_done="Withdrew the two-factor set-up requirement for {count}.",
        pending=lambda _role: User.must_enrol_totp.is_(true()),
        values={"must_enrol_totp": False},
        audit_change=({"must_enrol_totp": True}, {"must_enrol_totp": False}),
    ),
    UserAction(
        "assign_role",
        label="Assign role",
        button="Assign role",
        title="Assign a role",
        text="Gives them the role's permissions.",
        audit_action="user.role_assign",
        audit_label="Role assigned",
        done="Assigned the role to {username}.",
        unchanged="{username} already had the role.",
        available=lambda _user, _now: False,
        bulk_title="Assign the role{role} to {count}",
        bulk_done="Assigned the role{role} to {count}.",
        pending=lambda role: ~_is_member(role),
        needs_role=True,
    ),
    UserAction(
        "remove_role",
        label="Remove role",
        button="Remove role",
        title="Remove a role",
        text="Takes the role's permissions away from them.",
        audit_action="user.role_remove",
        audit_label="Role removed",
        done="Removed the role from {username}.",
        unchanged="{username} did not have the role.",
        available=lambda _user, _now: False,
        bulk_title="Remove the role{role} from {count}",
        bulk_done="Removed the role{role} from {count}.",
        pending=_is_member,
        needs_role=True,
        guarded=True,
        warning=True,
    ),
    UserAction(
        "reset_password",
        label="Reset password",
        button="Reset password",
        title="Reset the password",
        text="Sets a temporary password, signs them out everywhere, and makes them "
        "choose a new password at their next sign-in.",
        audit_action="user.password_reset",
        audit_label="Password reset by an administrator",
        done="Set a new temporary password for {username}.",
        unchanged="Nothing needed changing.",
        available=_always,
        warning=True,
        effect=lambda user_id, password: services.reset_account_password(user_id, password) or True,
        # It ends every session of the user, this one too, before the password could be shown.
        refused_on_oneself="You cannot reset your own password here: use “Change password” on "
        "your account page.",
    ),
    UserAction(
        "reset_totp",
        label="Reset two-factor",
        button="Reset two-factor",
        title="Reset two-factor authentication",
        text="Removes their authenticator app and recovery codes. "
        "They enrol again when they next sign in, if two-factor is required.",
        audit_action="user.totp_reset",
        audit_label="Two-factor authentication reset by an administrator",
        done="Reset two-factor authentication for {username}.",
        unchanged="{username} had no two-factor authentication to reset.",
        available=lambda user, _now: bool(user.totp_enabled or user.totp_secret),
        warning=True,
        effect=lambda user_id, _password: services.reset_two_factor(user_id),
    ),
    UserAction(
        "end_sessions",
        label="End sessions",
        button="End sessions",
        title="End all sessions",
        text="Signs them out of every browser; they can sign in again.",
        audit_action="user.sessions_end",
        audit_label="User's sessions ended",
        done="Ended {count} session{s} of {username}.",
        unchanged="{username} had no sessions to end.",
        available=_always,
        warning=True,
        effect=lambda user_id, _password: services.end_account_sessions(user_id),
    ),
    UserAction(
        "delete",
        label="Delete",
        button="Delete user",
        title="Delete this user",
        text="Only accounts that have never been used can be deleted. This cannot be undone.",
        audit_action="user.delete",
        audit_label="User deleted",
        done="Deleted the unused account {username}.",
        unchanged="Nothing needed changing.",
        available=lambda user, _now: user.last_sign_in_at is None,
        warning=True,
        effect=lambda user_id, _password: services.delete_account(user_id),
    ),
)

ACTIONS: dict[str, UserAction] = {action.key: action for action in USER_ACTIONS}
"""Every action by its key."""
BULK_ACTIONS: dict[str, UserAction] = {a.key: a for a in USER_ACTIONS if a.bulk}
"""The actions the users list applies to many users at once."""
BY_SLUG: dict[str, UserAction] = {action.slug: action for action in USER_ACTIONS}
"""Every action by its part of the user page's URL."""
AUDIT_LABELS: dict[str, str] = {a.audit_action: a.audit_label for a in USER_ACTIONS}
"""The audit log's readable names of the actions' events."""


def available_actions(user: User, now: datetime, actor_id: int) -> list[UserAction]:
    """The actions the user page offers the administrator ``actor_id`` for ``user`` (one at a
    time), in the table's order."""
    return [
        a
        for a in USER_ACTIONS
        if not a.needs_role
        and a.available(user, now)
        and not (a.refused_on_oneself and user.id == actor_id)
    ]


def bulk_title(action: UserAction, changing: int, role_name: str | None) -> str:
    """``Disable 12 users``: the bulk confirmation's title and button."""
    return (action.bulk_title or action.label).format(**_bulk_words(changing, role_name))


def bulk_done(action: UserAction, changing: int, role_name: str | None) -> str:
    """``Disabled 12 users.``: the message once a bulk change is done."""
    return (action.bulk_done or "Done.").format(**_bulk_words(changing, role_name))


def _bulk_words(changing: int, role_name: str | None) -> dict[str, str]:
    noun = "user" if changing == 1 else "users"
    return {"count": f"{changing:,} {noun}", "role": f" “{role_name}”" if role_name else ""}


def one_user_message(action: UserAction, username: str, outcome: Any) -> str:
    """The message after the action was taken on one user (``outcome``: the effect's result;
    False or 0 when nothing needed changing)."""
    if outcome is False or outcome == 0:
        return action.unchanged.format(username=username)
    count = outcome if isinstance(outcome, int) and not isinstance(outcome, bool) else 1
    return action.done.format(username=username, count=count, s="" if count == 1 else "s")
