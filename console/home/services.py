"""What the dashboard tells an administrator at a glance: accounts that need attention."""

from __future__ import annotations

from dataclasses import dataclass

from flask import url_for
from sqlalchemy import and_, func, select

from console.admin.users.listing import UserFilter, filter_conditions
from console.db import db
from console.db.models import User, utcnow

DORMANT_DAYS = 90


@dataclass(frozen=True)
class AccountCount:
    """How many users are in one state, and the user list filtered to them."""

    label: str
    count: int
    url: str


ATTENTION: tuple[tuple[str, UserFilter], ...] = (
    ("Locked after failed sign-ins", UserFilter(status="locked")),
    ("Must change their password", UserFilter(status="must_change_password")),
    ("Without two-factor authentication", UserFilter(status="no_totp")),
    (f"No sign-in for {DORMANT_DAYS} days or more", UserFilter(dormant_days=DORMANT_DAYS)),
    ("Disabled", UserFilter(status="disabled")),
)


def accounts_needing_attention() -> list[AccountCount]:
    """One count per state, each linking to the users list filtered to it.

    All counts come from one pass over the users table (``COUNT(*) FILTER (WHERE ...)``).
    """
    now = utcnow()
    counts = db.session.execute(
        select(
            *(
                func.count().filter(and_(*filter_conditions(user_filter, now)))
                for _label, user_filter in ATTENTION
            )
        ).select_from(User)
    ).one()
    return [
        AccountCount(label, int(count), url_for("admin.users", **user_filter.as_query()))
        for (label, user_filter), count in zip(ATTENTION, counts, strict=True)
    ]
