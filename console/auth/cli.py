"""``flask sessions ...``: housekeeping of the server-side sessions (for cron or a timer)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from console.auth.sessions import PURGE_BATCH, purge_expired_rows
from console.db import db

sessions_cli = AppGroup("sessions", help="Manage sign-in sessions.")


@sessions_cli.command("purge-expired")
def purge_expired() -> None:
    """Delete every expired session (signed-in and anonymous), auditing users' sessions as
    expired, and every expired row that lives as long as sessions do (e.g. remembered logout
    tokens). The console also does this in small batches as new sessions start; run this from
    a scheduler when traffic is low or sporadic."""
    totals: dict[str, int] = {}
    while True:
        removed = purge_expired_rows(current_app, PURGE_BATCH)
        db.session.commit()
        for label, count in removed.items():
            totals[label] = totals.get(label, 0) + count
        if max(removed.values()) < PURGE_BATCH:
            break
    for label, total in totals.items():
        click.echo(f"Removed {total} {label}{'' if total == 1 else 's'}.")
