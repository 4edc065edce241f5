"""Feedback on inspections, with every revision kept.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SCHEMA = "gateway"
UUID = postgresql.UUID(as_uuid=True)


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("inspection_id", UUID, primary_key=True),
        sa.Column("correct", sa.Boolean(), nullable=False),
        sa.Column("corrected_verdict", sa.String(8), nullable=True),
        sa.Column("corrected_counts", postgresql.JSONB(), nullable=True),
        sa.Column("corrected_boxes", postgresql.JSONB(), nullable=True),
        sa.Column("corrected_class", sa.String(100), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False, server_default=""),
        sa.Column("use_for_training", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("revision", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("created_by", UUID, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["inspection_id"],
            [f"{SCHEMA}.inspections.id"],
            ondelete="CASCADE",
            name="fk_feedback_inspection_id_inspections",
        ),
        schema=SCHEMA,
    )
    op.create_table(
        "feedback_revisions",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("inspection_id", UUID, nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("content", postgresql.JSONB(), nullable=False),
        sa.Column("by_key_id", UUID, nullable=True),
        sa.Column("by_name", sa.String(100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["inspection_id"],
            [f"{SCHEMA}.inspections.id"],
            ondelete="CASCADE",
            name="fk_feedback_revisions_inspection_id_inspections",
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_feedback_revisions_inspection_id", "feedback_revisions", ["inspection_id"], schema=SCHEMA
    )


def downgrade() -> None:
    op.drop_table("feedback_revisions", schema=SCHEMA)
    op.drop_table("feedback", schema=SCHEMA)
