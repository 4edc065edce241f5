"""The photo statistics of a dataset version's training split, computed once on first request.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SCHEMA = "registry"


def upgrade() -> None:
    op.add_column(
        "dataset_versions", sa.Column("photo_stats", postgresql.JSONB(), nullable=True), schema=SCHEMA
    )


def downgrade() -> None:
    op.drop_column("dataset_versions", "photo_stats", schema=SCHEMA)
