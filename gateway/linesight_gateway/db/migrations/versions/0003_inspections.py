"""Inspections.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SCHEMA = "gateway"
JSONB = postgresql.JSONB()


def upgrade() -> None:
    op.create_table(
        "inspections",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("station_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("verdict", sa.String(8), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("confidence_status", sa.String(16), nullable=True),
        sa.Column("counts", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("missing", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("unexpected", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("predictions", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("model_name", sa.String(100), nullable=False),
        sa.Column("model_alias", sa.String(64), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=True),
        sa.Column("model_sha256", sa.String(64), nullable=True),
        sa.Column("image_key", sa.String(256), nullable=False),
        sa.Column("image_sha256", sa.String(64), nullable=False),
        sa.Column("image_width", sa.Integer(), nullable=False),
        sa.Column("image_height", sa.Integer(), nullable=False),
        sa.Column("faces_blurred", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("timings_ms", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["station_id"],
            [f"{SCHEMA}.stations.id"],
            ondelete="RESTRICT",
            name="fk_inspections_station_id_stations",
        ),
        sa.CheckConstraint("status IN ('completed','pending')", name="ck_inspections_status"),
        sa.CheckConstraint("verdict IS NULL OR verdict IN ('OK','NOK')", name="ck_inspections_verdict"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_inspections_station_created", "inspections", ["station_id", "created_at"], schema=SCHEMA
    )
    op.create_index(
        "ix_inspections_pending",
        "inspections",
        ["next_attempt_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index("ix_inspections_created", "inspections", ["created_at"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("inspections", schema=SCHEMA)
