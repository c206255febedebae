"""Record on each audit row the patient's NHS number and name as the banner showed them.

An audit reader can then answer "who looked at this patient?" by NHS number or name, without
access to the patient record service. Columns are added with plain ``ALTER TABLE`` (no batch
copy), so SQLite keeps the append-only triggers on ``audit_events``.

Revision ID: b7c41f2a9d10
Revises: 8f2d6c0b5e17
Create Date: 2026-12-03 17:50:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "b7c41f2a9d10"
down_revision = "8f2d6c0b5e17"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("audit_events", sa.Column("patient_nhs_number", sa.String(10), nullable=True))
    op.add_column("audit_events", sa.Column("patient_name", sa.String(200), nullable=True))
    op.create_index(
        "ix_audit_events_patient_nhs_number_time",
        "audit_events",
        ["patient_nhs_number", "occurred_at"],
        unique=False,
    )


def downgrade():
    op.drop_index("ix_audit_events_patient_nhs_number_time", table_name="audit_events")
    op.drop_column("audit_events", "patient_name")
    op.drop_column("audit_events", "patient_nhs_number")
