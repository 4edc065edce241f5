"""Datasets may be segment datasets (items with polygons); training runs stay detect or classify.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SCHEMA = "registry"


def upgrade() -> None:
    op.drop_constraint("ck_datasets_task", "datasets", schema=SCHEMA, type_="check")
    op.create_check_constraint(
        "ck_datasets_task", "datasets", "task IN ('detect','classify','segment')", schema=SCHEMA
    )


def downgrade() -> None:
    op.drop_constraint("ck_datasets_task", "datasets", schema=SCHEMA, type_="check")
    op.create_check_constraint("ck_datasets_task", "datasets", "task IN ('detect','classify')", schema=SCHEMA)
