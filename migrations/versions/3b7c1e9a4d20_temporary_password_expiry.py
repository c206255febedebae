"""Temporary passwords expire: remember when an administrator set one.

``users.temporary_password_set_at`` is set when an administrator creates a user or resets a
password, and cleared when the user chooses their own; a temporary password older than the
``security.temporary_password_minutes`` setting is refused at sign-in. Existing accounts get
NULL (no temporary password pending is known to be one an administrator set).

Revision ID: 3b7c1e9a4d20
Revises: e5974dc705e9
Create Date: 2026-12-03 18:15:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "3b7c1e9a4d20"
down_revision = "e5974dc705e9"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("temporary_password_set_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("temporary_password_set_at")
