"""Single sign-on: remember accepted back-channel logout tokens, so a replay is refused.

One row per accepted token, keyed by a hash of the issuer and the token's jti, kept until the
token would be refused as expired anyway; expired rows are purged with expired sessions.

Revision ID: c4e8a1d2f6b3
Revises: e3a287ae936a
Create Date: 2026-12-03 21:30:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "c4e8a1d2f6b3"
down_revision = "e3a287ae936a"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "sso_logout_tokens",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sso_logout_tokens")),
    )
    with op.batch_alter_table("sso_logout_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sso_logout_tokens_expires_at"), ["expires_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("sso_logout_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sso_logout_tokens_expires_at"))

    op.drop_table("sso_logout_tokens")
