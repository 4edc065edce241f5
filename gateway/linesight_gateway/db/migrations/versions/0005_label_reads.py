"""Label reads (the OCR service's read of a product-label photo, with its review) and their history.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SCHEMA = "gateway"
UUID = postgresql.UUID(as_uuid=True)
JSONB = postgresql.JSONB()
EMPTY_LIST = sa.text("'[]'::jsonb")


def upgrade() -> None:
    op.create_table(
        "label_reads",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("auto_approved", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("station_id", UUID, nullable=True),
        sa.Column("station_name", sa.String(100), nullable=True),
        sa.Column("context", sa.Text(), nullable=False, server_default=""),
        sa.Column("vendor_hint", sa.String(64), nullable=True),
        sa.Column("vendor_id", sa.String(64), nullable=True),
        sa.Column("vendor_name", sa.String(100), nullable=True),
        sa.Column("vendor_matched_by", sa.String(16), nullable=True),
        sa.Column("codes", JSONB, nullable=False, server_default=EMPTY_LIST),
        sa.Column("ocr_codes", JSONB, nullable=False, server_default=EMPTY_LIST),
        sa.Column("review_reasons", JSONB, nullable=False, server_default=EMPTY_LIST),
        sa.Column("tokens", JSONB, nullable=False, server_default=EMPTY_LIST),
        sa.Column("tokens_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("barcodes", JSONB, nullable=False, server_default=EMPTY_LIST),
        sa.Column("rotation", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("timings_ms", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("image_key", sa.String(256), nullable=False),
        sa.Column("image_sha256", sa.String(64), nullable=False),
        sa.Column("image_content_type", sa.String(64), nullable=False),
        sa.Column("image_width", sa.Integer(), nullable=False),
        sa.Column("image_height", sa.Integer(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False, server_default=""),
        sa.Column("revision", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("created_by", UUID, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("reviewed_by", UUID, nullable=True),
        sa.Column("reviewed_by_name", sa.String(100), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["station_id"],
            [f"{SCHEMA}.stations.id"],
            ondelete="SET NULL",
            name="fk_label_reads_station_id_stations",
        ),
        sa.CheckConstraint("status IN ('needs_review','approved','corrected')", name="ck_label_reads_status"),
        schema=SCHEMA,
    )
    op.create_index("ix_label_reads_status_created", "label_reads", ["status", "created_at"], schema=SCHEMA)
    op.create_index("ix_label_reads_created", "label_reads", ["created_at"], schema=SCHEMA)
    op.create_index("ix_label_reads_reviewed", "label_reads", ["reviewed_at"], schema=SCHEMA)
    op.create_index("ix_label_reads_vendor", "label_reads", ["vendor_id"], schema=SCHEMA)
    op.create_index("ix_label_reads_station", "label_reads", ["station_id"], schema=SCHEMA)

    op.create_table(
        "label_read_changes",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("read_id", UUID, nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("codes", JSONB, nullable=False),
        sa.Column("notes", sa.Text(), nullable=False, server_default=""),
        sa.Column("by_key_id", UUID, nullable=True),
        sa.Column("by_name", sa.String(100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["read_id"],
            [f"{SCHEMA}.label_reads.id"],
            ondelete="CASCADE",
            name="fk_label_read_changes_read_id_label_reads",
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_label_read_changes_read_id", "label_read_changes", ["read_id"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("label_read_changes", schema=SCHEMA)
    op.drop_table("label_reads", schema=SCHEMA)
