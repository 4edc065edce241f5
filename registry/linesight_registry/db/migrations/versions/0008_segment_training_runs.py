"""Training runs may train segment models (on segment datasets).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

SCHEMA = "registry"


def upgrade() -> None:
    op.drop_constraint("ck_training_runs_task", "training_runs", schema=SCHEMA, type_="check")
    op.create_check_constraint(
        "ck_training_runs_task", "training_runs", "task IN ('detect','classify','segment')", schema=SCHEMA
    )


def downgrade() -> None:
    op.drop_constraint("ck_training_runs_task", "training_runs", schema=SCHEMA, type_="check")
    op.create_check_constraint(
        "ck_training_runs_task", "training_runs", "task IN ('detect','classify')", schema=SCHEMA
    )
