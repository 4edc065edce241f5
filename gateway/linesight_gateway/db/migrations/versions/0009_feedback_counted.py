"""Feedback counts once toward a station's retraining threshold, however often it is toggled.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

SCHEMA = "gateway"


def upgrade() -> None:
    op.add_column(
        "feedback",
        sa.Column("training_counted", sa.Boolean(), nullable=False, server_default=sa.false()),
        schema=SCHEMA,
    )
    # Feedback in a dataset now has been counted already.
    op.execute(f"UPDATE {SCHEMA}.feedback SET training_counted = true WHERE dataset_item_id IS NOT NULL")
    # Training runs started in the last hour are counted from the audit log (domain/run_limits.py).
    op.create_index(
        "ix_audit_events_run_starts",
        "audit_events",
        ["at"],
        schema=SCHEMA,
        postgresql_where=sa.text("action = 'training_run.create'"),
    )


def downgrade() -> None:
    op.drop_index("ix_audit_events_run_starts", "audit_events", schema=SCHEMA)
    op.drop_column("feedback", "training_counted", schema=SCHEMA)
