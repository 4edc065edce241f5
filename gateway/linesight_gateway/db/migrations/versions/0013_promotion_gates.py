"""Promotion gates: a model's production alias moves only to a version whose replay of verified history,
at each gated station, is at least as good as production (domain/promotion_gate.py). A row names the
model and one station, or no station (every station serving the model's production).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

SCHEMA = "gateway"
UUID = postgresql.UUID(as_uuid=True)


def upgrade() -> None:
    op.create_table(
        "promotion_gates",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("model_name", sa.String(100), nullable=False),
        sa.Column("station_id", UUID, nullable=True),
        sa.Column("min_verified", sa.Integer(), nullable=False),
        sa.Column("created_by_name", sa.String(100), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("min_verified >= 1", name="ck_promotion_gates_min_verified"),
        sa.ForeignKeyConstraint(
            ["station_id"],
            [f"{SCHEMA}.stations.id"],
            ondelete="CASCADE",
            name="fk_promotion_gates_station_id_stations",
        ),
        schema=SCHEMA,
    )
    # One gate per (model, station), and one model-wide gate (no station) per model.
    op.create_index(
        "uq_promotion_gates_station",
        "promotion_gates",
        ["model_name", "station_id"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=sa.text("station_id IS NOT NULL"),
    )
    op.create_index(
        "uq_promotion_gates_model",
        "promotion_gates",
        ["model_name"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=sa.text("station_id IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("promotion_gates", schema=SCHEMA)
