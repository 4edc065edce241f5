"""A model whose production alias is guarded by the gateway's promotion gate: training may stage its new
versions but never moves its production itself (docs/architecture.md, "Promotion gate").

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SCHEMA = "registry"


def upgrade() -> None:
    op.add_column(
        "models",
        sa.Column("promotion_gated", sa.Boolean(), nullable=False, server_default=sa.false()),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_column("models", "promotion_gated", schema=SCHEMA)
