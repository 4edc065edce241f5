"""Stations.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SCHEMA = "gateway"


def upgrade() -> None:
    op.create_table(
        "stations",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("model_name", sa.String(100), nullable=False),
        sa.Column("model_alias", sa.String(64), nullable=False, server_default="production"),
        sa.Column(
            "expected_items", postgresql.JSONB(), nullable=False, server_default=sa.text("'[]'::jsonb")
        ),
        sa.Column("ok_classes", postgresql.JSONB(), nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("success_threshold", sa.Float(), nullable=False, server_default="0.7"),
        sa.Column("low_confidence_threshold", sa.Float(), nullable=False, server_default="0.5"),
        sa.Column("reference_image_key", sa.String(256), nullable=True),
        sa.Column("blur_faces", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.UniqueConstraint("name", name="uq_stations_name"),
        sa.CheckConstraint("mode IN ('detect','classify')", name="ck_stations_mode"),
        sa.CheckConstraint(
            "low_confidence_threshold >= 0 AND low_confidence_threshold <= success_threshold "
            "AND success_threshold <= 1",
            name="ck_stations_thresholds",
        ),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("stations", schema=SCHEMA)
