"""Temporary account lockout, modelled on Keycloak's brute-force detector.

Every wrong password or two-factor code (including a missing code) is a failure. A failure more
than the failure-reset window after the previous one starts the count again. Once the count
reaches the threshold the account is locked for ``increment * (failures // threshold)`` seconds
(integer division), never longer than the maximum wait; so each further failure after a lockout
locks again, and every threshold's worth of failures lengthens the wait by one increment.
Failures while locked are refused without being counted, so they neither extend the lockout nor
raise the next wait. A full sign-in clears the count. The stored ``failed_login_count`` and
``locked_until`` are the truth: an administrator unlocks by clearing them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from console.appsettings import get_setting
from console.audit import record_event
from console.auth import clock
from console.db import db
from console.db.models import User


@dataclass(frozen=True)
class LockoutPolicy:
    """The four brute-force settings."""

    threshold: int
    wait_increment: timedelta
    max_wait: timedelta
    failure_reset: timedelta

    @classmethod
    def from_settings(cls) -> LockoutPolicy:
        """The policy in force now."""
        return cls(
            threshold=get_setting("security.lockout_failures"),
            wait_increment=timedelta(
                seconds=get_setting("security.lockout_wait_increment_seconds")
            ),
            max_wait=timedelta(seconds=get_setting("security.lockout_max_wait_seconds")),
            failure_reset=timedelta(seconds=get_setting("security.lockout_failure_reset_seconds")),
        )

    def wait_for(self, failures: int) -> timedelta:
        """How long the account is locked after ``failures`` failures in a row (zero: not)."""
        return min(self.wait_increment * (failures // self.threshold), self.max_wait)


def is_locked(user: User, now: datetime | None = None) -> bool:
    """True while a temporary lockout is in force."""
    return user.is_locked(now or clock.now())


def lock_row(user: User) -> None:
    """Re-read the user's row and hold it (``SELECT … FOR UPDATE`` on PostgreSQL) so concurrent
    failures are all counted and none is lost to a stale version."""
    # The users row alone: PostgreSQL cannot lock the outer-joined roles.
    db.session.refresh(user, with_for_update={"of": User})


def register_failure(user: User, reason: str, policy: LockoutPolicy | None = None) -> timedelta:
    """Count a failed attempt (unless locked) and lock the account when the threshold is met.

    Returns the length of a lockout that starts now (zero when none does). The caller records
    the failed sign-in and commits.
    """
    policy = policy or LockoutPolicy.from_settings()
    lock_row(user)
    now = clock.now()
    if user.is_locked(now):
        return timedelta(0)
    last = user.last_failed_login_at
    if last is None or now - last > policy.failure_reset:
        user.failed_login_count = 0
    user.failed_login_count = (user.failed_login_count or 0) + 1
    user.last_failed_login_at = now
    wait = policy.wait_for(user.failed_login_count)
    if wait > timedelta(0):
        user.locked_until = now + wait
        record_event(
            "auth.lockout",
            outcome="denied",
            target_type="user",
            target_id=user.id,
            actor=user,
            details={
                "failures": user.failed_login_count,
                "wait_seconds": int(wait.total_seconds()),
                "locked_until": user.locked_until.isoformat(),
                "last_reason": reason,
            },
        )
    return wait


def register_success(user: User) -> None:
    """A full sign-in: forget earlier failures."""
    if user.failed_login_count or user.locked_until or user.last_failed_login_at:
        user.failed_login_count = 0
        user.locked_until = None
        user.last_failed_login_at = None


def unlock(user: User) -> None:
    """Clear a lockout and the failure count (an administrator's action), audited; the caller
    commits. Clearing the two fields directly has the same effect, without the audit row."""
    was_locked = is_locked(user)
    before = {"failed_login_count": user.failed_login_count, "locked": was_locked}
    user.failed_login_count = 0
    user.locked_until = None
    user.last_failed_login_at = None
    record_event(
        "auth.unlock",
        target_type="user",
        target_id=user.id,
        before=before,
        after={"failed_login_count": 0, "locked": False},
    )
