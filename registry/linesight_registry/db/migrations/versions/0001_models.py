"""Models, versions, aliases and the alias history.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SCHEMA = "registry"
UUID = postgresql.UUID(as_uuid=True)
JSONB = postgresql.JSONB()


def upgrade() -> None:
    op.create_table(
        "models",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("task", sa.String(16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.UniqueConstraint("name", name="uq_models_name"),
        sa.CheckConstraint("task IN ('detect','classify')", name="ck_models_task"),
        schema=SCHEMA,
    )
    op.create_table(
        "model_versions",
        sa.Column("id", UUID, primary_key=True),
        sa.Column(
            "model_id",
            UUID,
            sa.ForeignKey(
                f"{SCHEMA}.models.id", ondelete="CASCADE", name="fk_model_versions_model_id_models"
            ),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("artifact_key", sa.String(256), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("task", sa.String(16), nullable=False),
        sa.Column("imgsz", JSONB, nullable=False),
        sa.Column("class_names", JSONB, nullable=False),
        sa.Column("stride", sa.Integer(), nullable=True),
        sa.Column("dynamic_batch", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("metrics", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("params", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("dataset_version_id", UUID, nullable=True),
        sa.Column("training_run_id", UUID, nullable=True),
        sa.Column("created_by", sa.String(100), nullable=False, server_default=""),
        sa.Column("notes", sa.Text(), nullable=False, server_default=""),
        sa.Column("status", sa.String(16), nullable=False, server_default="ready"),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.UniqueConstraint("model_id", "version", name="uq_model_versions_model_id_version"),
        sa.UniqueConstraint("model_id", "sha256", name="uq_model_versions_model_id_sha256"),
        sa.CheckConstraint("status IN ('ready','archived')", name="ck_model_versions_status"),
        schema=SCHEMA,
    )
    op.create_table(
        "aliases",
        sa.Column("id", UUID, primary_key=True),
        sa.Column(
            "model_id",
            UUID,
            sa.ForeignKey(f"{SCHEMA}.models.id", ondelete="CASCADE", name="fk_aliases_model_id_models"),
            nullable=False,
        ),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column(
            "version_id",
            UUID,
            sa.ForeignKey(f"{SCHEMA}.model_versions.id", name="fk_aliases_version_id_model_versions"),
            nullable=False,
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_by", sa.String(100), nullable=False, server_default=""),
        sa.UniqueConstraint("model_id", "name", name="uq_aliases_model_id_name"),
        schema=SCHEMA,
    )
    op.create_table(
        "alias_events",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column(
            "model_id",
            UUID,
            sa.ForeignKey(f"{SCHEMA}.models.id", ondelete="CASCADE", name="fk_alias_events_model_id_models"),
            nullable=False,
        ),
        sa.Column("alias", sa.String(64), nullable=False),
        sa.Column("from_version", sa.Integer(), nullable=True),
        sa.Column("to_version", sa.Integer(), nullable=True),
        sa.Column("moved_by", sa.String(100), nullable=False, server_default=""),
        sa.Column("reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        schema=SCHEMA,
    )
    op.create_index("ix_alias_events_model_alias", "alias_events", ["model_id", "alias", "id"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("alias_events", schema=SCHEMA)
    op.drop_table("aliases", schema=SCHEMA)
    op.drop_table("model_versions", schema=SCHEMA)
    op.drop_table("models", schema=SCHEMA)
