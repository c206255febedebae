"""``flask sessions ...``: housekeeping of the server-side sessions (for cron or a timer)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from console.auth.sessions import PURGE_BATCH, purge_expired_sessions
from console.db import db

sessions_cli = AppGroup("sessions", help="Manage sign-in sessions.")


@sessions_cli.command("purge-expired")
def purge_expired() -> None:
    """Delete every expired session (signed-in and anonymous), auditing users' sessions as
    expired. The console also does this in small batches as new sessions start; run this from a
    scheduler when traffic is low or sporadic."""
    total = 0
    while True:
        removed = purge_expired_sessions(PURGE_BATCH)
        db.session.commit()
        total += removed
        if removed < PURGE_BATCH:
            break
    click.echo(f"Removed {total} expired {'session' if total == 1 else 'sessions'}.")
