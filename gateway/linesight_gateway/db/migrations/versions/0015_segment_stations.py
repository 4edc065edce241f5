"""Segment stations (mode segment): defect rules, the camera's mm per pixel and a region of interest on the station;
the failed rules and measured defects on each inspection; corrected instances (masks) on feedback.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

SCHEMA = "gateway"
EMPTY = sa.text("'[]'::jsonb")


def upgrade() -> None:
    op.drop_constraint("ck_stations_mode", "stations", schema=SCHEMA, type_="check")
    op.create_check_constraint(
        "ck_stations_mode", "stations", "mode IN ('detect','classify','segment')", schema=SCHEMA
    )
    op.add_column(
        "stations",
        sa.Column("defect_rules", postgresql.JSONB(), nullable=False, server_default=EMPTY),
        schema=SCHEMA,
    )
    op.add_column("stations", sa.Column("mm_per_pixel", sa.Float(), nullable=True), schema=SCHEMA)
    op.add_column("stations", sa.Column("roi", postgresql.JSONB(), nullable=True), schema=SCHEMA)
    for column in ("failed_rules", "defects"):
        op.add_column(
            "inspections",
            sa.Column(column, postgresql.JSONB(), nullable=False, server_default=EMPTY),
            schema=SCHEMA,
        )
    op.add_column(
        "feedback", sa.Column("corrected_instances", postgresql.JSONB(), nullable=True), schema=SCHEMA
    )


def downgrade() -> None:
    op.drop_column("feedback", "corrected_instances", schema=SCHEMA)
    for column in ("defects", "failed_rules"):
        op.drop_column("inspections", column, schema=SCHEMA)
    for column in ("roi", "mm_per_pixel", "defect_rules"):
        op.drop_column("stations", column, schema=SCHEMA)
    # Refused (the constraint fails) while segment stations exist: their history is not dropped here.
    op.drop_constraint("ck_stations_mode", "stations", schema=SCHEMA, type_="check")
    op.create_check_constraint("ck_stations_mode", "stations", "mode IN ('detect','classify')", schema=SCHEMA)
