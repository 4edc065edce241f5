"""Training runs and their epochs.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SCHEMA = "registry"
UUID = postgresql.UUID(as_uuid=True)
JSONB = postgresql.JSONB()
EMPTY_OBJECT = sa.text("'{}'::jsonb")


def upgrade() -> None:
    op.create_table(
        "training_runs",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="queued"),
        sa.Column("task", sa.String(16), nullable=False),
        sa.Column("model_name", sa.String(100), nullable=False),
        sa.Column("dataset", sa.String(100), nullable=True),
        sa.Column("dataset_version", sa.Integer(), nullable=True),
        sa.Column("dataset_version_id", UUID, nullable=True),
        sa.Column("architecture", sa.String(64), nullable=True),
        sa.Column("base_model", sa.String(100), nullable=True),
        sa.Column("base_version", sa.Integer(), nullable=True),
        sa.Column("base_weights_key", sa.String(256), nullable=True),
        sa.Column("source_key", sa.String(256), nullable=True),
        sa.Column("source_sha256", sa.String(64), nullable=True),
        sa.Column("epochs", sa.Integer(), nullable=True),
        sa.Column("imgsz", sa.Integer(), nullable=True),
        sa.Column("batch", sa.Integer(), nullable=True),
        sa.Column("seed", sa.Integer(), nullable=True),
        sa.Column("patience", sa.Integer(), nullable=True),
        sa.Column("time_limit_seconds", sa.Integer(), nullable=False),
        sa.Column("selection_metric", sa.String(64), nullable=False),
        sa.Column("auto_promote", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("notes", sa.Text(), nullable=False, server_default=""),
        sa.Column("progress", JSONB, nullable=True),
        sa.Column("epochs_done", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("attempt", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("worker", sa.String(200), nullable=True),
        sa.Column("task_id", sa.String(200), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("error", sa.Text(), nullable=False, server_default=""),
        sa.Column("evaluation", JSONB, nullable=False, server_default=EMPTY_OBJECT),
        sa.Column("metrics", JSONB, nullable=False, server_default=EMPTY_OBJECT),
        sa.Column("model_version", sa.Integer(), nullable=True),
        sa.Column("staged", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("promoted", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("decision", sa.Text(), nullable=False, server_default=""),
        sa.Column("artifacts", JSONB, nullable=False, server_default=EMPTY_OBJECT),
        sa.Column("created_by", sa.String(100), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempt_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('train','convert')", name="ck_training_runs_kind"),
        sa.CheckConstraint(
            "status IN ('queued','running','succeeded','failed','cancelled')", name="ck_training_runs_status"
        ),
        sa.CheckConstraint("task IN ('detect','classify')", name="ck_training_runs_task"),
        schema=SCHEMA,
    )
    op.create_index("ix_training_runs_created_at", "training_runs", ["created_at"], schema=SCHEMA)
    op.create_index(
        "ix_training_runs_model_name", "training_runs", ["model_name", "created_at"], schema=SCHEMA
    )
    op.create_index("ix_training_runs_dataset", "training_runs", ["dataset", "created_at"], schema=SCHEMA)
    # The sweeper and the active-runs gauge look at unfinished runs only.
    op.create_index(
        "ix_training_runs_unfinished",
        "training_runs",
        ["status"],
        schema=SCHEMA,
        postgresql_where=sa.text("status IN ('queued','running')"),
    )
    op.create_table(
        "training_epochs",
        sa.Column(
            "run_id",
            UUID,
            sa.ForeignKey(
                f"{SCHEMA}.training_runs.id",
                ondelete="CASCADE",
                name="fk_training_epochs_run_id_training_runs",
            ),
            nullable=False,
        ),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("epochs", sa.Integer(), nullable=False),
        sa.Column("losses", JSONB, nullable=False, server_default=EMPTY_OBJECT),
        sa.Column("metrics", JSONB, nullable=False, server_default=EMPTY_OBJECT),
        sa.Column("elapsed_s", sa.Float(), nullable=False),
        sa.Column("eta_s", sa.Float(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "attempt", "epoch", name="pk_training_epochs"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("training_epochs", schema=SCHEMA)
    op.drop_index("ix_training_runs_unfinished", "training_runs", schema=SCHEMA)
    op.drop_index("ix_training_runs_dataset", "training_runs", schema=SCHEMA)
    op.drop_index("ix_training_runs_model_name", "training_runs", schema=SCHEMA)
    op.drop_index("ix_training_runs_created_at", "training_runs", schema=SCHEMA)
    op.drop_table("training_runs", schema=SCHEMA)
