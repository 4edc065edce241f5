"""Stations can blur whole people (found by a configured person detector); inspections count them.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SCHEMA = "gateway"


def upgrade() -> None:
    op.add_column(
        "stations",
        sa.Column("blur_people", sa.Boolean(), nullable=False, server_default=sa.false()),
        schema=SCHEMA,
    )
    op.add_column(
        "inspections",
        sa.Column("people_blurred", sa.Integer(), nullable=False, server_default="0"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_column("inspections", "people_blurred", schema=SCHEMA)
    op.drop_column("stations", "blur_people", schema=SCHEMA)
