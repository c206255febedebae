"""Audit rows keep the actor's and target's names as they were at the time of the event.

Adds ``audit_events.actor_display_name`` and ``audit_events.target_display_name`` ("Full Name
(username)", or "role Name"), so renaming an account no longer relabels its history. Rows
written before this revision are filled from the current names (the best that is known); the
append-only triggers are lifted for that one statement and put back.

Revision ID: 8f2d6c0b5e17
Revises: 3b7c1e9a4d20
Create Date: 2026-12-03 18:35:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "8f2d6c0b5e17"
down_revision = "3b7c1e9a4d20"
branch_labels = None
depends_on = None

BACKFILL = (
    "UPDATE audit_events SET "
    "actor_display_name = (SELECT CASE WHEN u.full_name <> '' "
    "THEN u.full_name || ' (' || u.username || ')' ELSE u.username END "
    "FROM users u WHERE u.id = audit_events.actor_id), "
    "target_display_name = CASE "
    "WHEN target_type = 'user' THEN (SELECT CASE WHEN u.full_name <> '' "
    "THEN u.full_name || ' (' || u.username || ')' ELSE u.username END "
    "FROM users u WHERE CAST(u.id AS VARCHAR(20)) = audit_events.target_id) "
    "WHEN target_type = 'role' THEN (SELECT 'role ' || r.name FROM roles r "
    "WHERE CAST(r.id AS VARCHAR(20)) = audit_events.target_id) END"
)


def upgrade():
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("actor_display_name", sa.String(length=400), nullable=True))
        batch_op.add_column(sa.Column("target_display_name", sa.String(length=400), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
        op.execute(BACKFILL)
        op.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        op.execute(BACKFILL)
        op.execute(
            "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
            "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"
        )


def downgrade():
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_column("target_display_name")
        batch_op.drop_column("actor_display_name")
