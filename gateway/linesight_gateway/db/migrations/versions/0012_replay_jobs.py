"""Replay jobs: a model version and the station's production version replaying the station's verified
inspections, with progress, the per-inspection answers so far (so a job resumes after a restart) and
the report.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

SCHEMA = "gateway"
UUID = postgresql.UUID(as_uuid=True)
JSONB = postgresql.JSONB()


def upgrade() -> None:
    op.create_table(
        "replay_jobs",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("station_id", UUID, nullable=False),
        sa.Column("model_name", sa.String(100), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("baseline_name", sa.String(100), nullable=False),
        sa.Column("baseline_alias", sa.String(64), nullable=False),
        sa.Column("baseline_version", sa.Integer(), nullable=False),
        sa.Column("task", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("selection", JSONB, nullable=False),
        sa.Column("rules", JSONB, nullable=False),
        sa.Column("inspection_ids", JSONB, nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("items", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("result", JSONB, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_by", UUID, nullable=True),
        sa.Column("created_by_name", sa.String(100), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["station_id"],
            [f"{SCHEMA}.stations.id"],
            ondelete="CASCADE",
            name="fk_replay_jobs_station_id_stations",
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_replay_jobs_version", "replay_jobs", ["model_name", "model_version", "created_at"], schema=SCHEMA
    )
    op.create_index("ix_replay_jobs_station", "replay_jobs", ["station_id", "created_at"], schema=SCHEMA)
    # The runner picks queued jobs and running ones whose runner went quiet.
    op.create_index(
        "ix_replay_jobs_open",
        "replay_jobs",
        ["created_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status IN ('queued', 'running')"),
    )


def downgrade() -> None:
    op.drop_table("replay_jobs", schema=SCHEMA)
