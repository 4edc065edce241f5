"""Stations' training policy and feedback loop state; feedback's link to the registry dataset item.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SCHEMA = "gateway"


def upgrade() -> None:
    for column in ("training", "training_state"):
        op.add_column(
            "stations",
            sa.Column(column, postgresql.JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
            schema=SCHEMA,
        )
    op.add_column("feedback", sa.Column("dataset_name", sa.String(100), nullable=True), schema=SCHEMA)
    op.add_column("feedback", sa.Column("dataset_item_id", sa.String(64), nullable=True), schema=SCHEMA)
    op.add_column(
        "feedback", sa.Column("dataset_synced_revision", sa.Integer(), nullable=True), schema=SCHEMA
    )
    op.add_column("feedback", sa.Column("dataset_sync_error", sa.Text(), nullable=True), schema=SCHEMA)
    op.add_column(
        "feedback",
        sa.Column("dataset_sync_attempts", sa.Integer(), nullable=False, server_default="0"),
        schema=SCHEMA,
    )
    op.add_column(
        "feedback",
        sa.Column("dataset_next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        schema=SCHEMA,
    )
    # The sync loop looks for feedback whose latest revision is not in the dataset yet.
    op.create_index(
        "ix_feedback_dataset_pending",
        "feedback",
        ["updated_at"],
        schema=SCHEMA,
        postgresql_where=sa.text(
            "(use_for_training OR dataset_item_id IS NOT NULL) "
            "AND (dataset_synced_revision IS NULL OR dataset_synced_revision < revision)"
        ),
    )


def downgrade() -> None:
    op.drop_index("ix_feedback_dataset_pending", "feedback", schema=SCHEMA)
    for column in (
        "dataset_next_attempt_at",
        "dataset_sync_attempts",
        "dataset_sync_error",
        "dataset_synced_revision",
        "dataset_item_id",
        "dataset_name",
    ):
        op.drop_column("feedback", column, schema=SCHEMA)
    for column in ("training_state", "training"):
        op.drop_column("stations", column, schema=SCHEMA)
