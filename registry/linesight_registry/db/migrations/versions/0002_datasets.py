"""Datasets, their items and immutable versions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SCHEMA = "registry"
UUID = postgresql.UUID(as_uuid=True)
JSONB = postgresql.JSONB()


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("task", sa.String(16), nullable=False),
        sa.Column("class_names", JSONB, nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("station", sa.String(100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.UniqueConstraint("name", name="uq_datasets_name"),
        sa.CheckConstraint("task IN ('detect','classify')", name="ck_datasets_task"),
        schema=SCHEMA,
    )
    op.create_index("ix_datasets_station", "datasets", ["station"], schema=SCHEMA)
    op.create_table(
        "dataset_items",
        sa.Column("id", UUID, primary_key=True),
        sa.Column(
            "dataset_id",
            UUID,
            sa.ForeignKey(
                f"{SCHEMA}.datasets.id", ondelete="CASCADE", name="fk_dataset_items_dataset_id_datasets"
            ),
            nullable=False,
        ),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("image_key", sa.String(256), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("labels", JSONB, nullable=True),
        sa.Column("split", sa.String(8), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("origin", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.UniqueConstraint("dataset_id", "sha256", name="uq_dataset_items_dataset_id_sha256"),
        sa.CheckConstraint("split IN ('train','val','test')", name="ck_dataset_items_split"),
        sa.CheckConstraint("source IN ('upload','feedback','import')", name="ck_dataset_items_source"),
        schema=SCHEMA,
    )
    op.create_index("ix_dataset_items_dataset_split", "dataset_items", ["dataset_id", "split"], schema=SCHEMA)
    op.create_index(
        "ix_dataset_items_dataset_created", "dataset_items", ["dataset_id", "created_at"], schema=SCHEMA
    )
    op.create_table(
        "dataset_versions",
        sa.Column("id", UUID, primary_key=True),
        sa.Column(
            "dataset_id",
            UUID,
            sa.ForeignKey(f"{SCHEMA}.datasets.id", name="fk_dataset_versions_dataset_id_datasets"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("task", sa.String(16), nullable=False),
        sa.Column("class_names", JSONB, nullable=False),
        sa.Column("manifest_key", sa.String(256), nullable=False),
        sa.Column("manifest_sha256", sa.String(64), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("split_counts", JSONB, nullable=False),
        sa.Column("class_counts", JSONB, nullable=False),
        sa.Column("unlabelled", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("diff", JSONB, nullable=False),
        sa.Column("notes", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_by", sa.String(100), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.UniqueConstraint("dataset_id", "version", name="uq_dataset_versions_dataset_id_version"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("dataset_versions", schema=SCHEMA)
    op.drop_table("dataset_items", schema=SCHEMA)
    op.drop_table("datasets", schema=SCHEMA)
