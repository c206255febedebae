"""The one source of "now" for sign-in, lockout, sessions and two-factor codes.

Everything time-dependent in ``console.auth`` calls ``clock.now()`` (through the module, never a
copied reference), so tests can replace this function and move time forward.
"""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)
