"""Shadow mode: a station may name a second alias of its model (`shadow_alias`) that answers every live
inspection in the background; that answer (or why there is none) is kept with the inspection (`shadow`).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

SCHEMA = "gateway"


def upgrade() -> None:
    op.add_column("stations", sa.Column("shadow_alias", sa.String(64), nullable=True), schema=SCHEMA)
    op.add_column("inspections", sa.Column("shadow", postgresql.JSONB(), nullable=True), schema=SCHEMA)


def downgrade() -> None:
    op.drop_column("inspections", "shadow", schema=SCHEMA)
    op.drop_column("stations", "shadow_alias", schema=SCHEMA)
