"""Models may be segment models (datasets and training runs stay detect or classify).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SCHEMA = "registry"


def upgrade() -> None:
    op.drop_constraint("ck_models_task", "models", schema=SCHEMA, type_="check")
    op.create_check_constraint(
        "ck_models_task", "models", "task IN ('detect','classify','segment')", schema=SCHEMA
    )


def downgrade() -> None:
    op.drop_constraint("ck_models_task", "models", schema=SCHEMA, type_="check")
    op.create_check_constraint("ck_models_task", "models", "task IN ('detect','classify')", schema=SCHEMA)
