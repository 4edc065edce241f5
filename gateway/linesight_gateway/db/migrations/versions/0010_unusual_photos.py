"""The unusual-photo flag: each inspection keeps its photo statistics and the reasons it was flagged;
a station decides whether an unusual photo needs review.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

SCHEMA = "gateway"


def upgrade() -> None:
    op.add_column("inspections", sa.Column("photo_stats", JSONB(), nullable=True), schema=SCHEMA)
    op.add_column(
        "inspections",
        sa.Column("unusual", JSONB(), nullable=False, server_default=sa.text("'[]'::jsonb")),
        schema=SCHEMA,
    )
    op.add_column(
        "stations",
        sa.Column("unusual_needs_review", sa.Boolean(), nullable=False, server_default=sa.false()),
        schema=SCHEMA,
    )
    # The baseline reads a station's last accepted inspections, newest first; history filters on the flag.
    op.create_index(
        "ix_inspections_usual_recent",
        "inspections",
        ["station_id", "created_at"],
        schema=SCHEMA,
        postgresql_where=sa.text(
            "status = 'completed' AND unusual = '[]'::jsonb AND photo_stats IS NOT NULL"
        ),
    )


def downgrade() -> None:
    op.drop_index("ix_inspections_usual_recent", "inspections", schema=SCHEMA)
    op.drop_column("stations", "unusual_needs_review", schema=SCHEMA)
    op.drop_column("inspections", "unusual", schema=SCHEMA)
    op.drop_column("inspections", "photo_stats", schema=SCHEMA)
