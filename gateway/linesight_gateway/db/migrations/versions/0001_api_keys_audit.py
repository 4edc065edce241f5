"""API keys and the audit log.

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

SCHEMA = "gateway"


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_by", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("bootstrap", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.ForeignKeyConstraint(
            ["created_by"],
            [f"{SCHEMA}.api_keys.id"],
            ondelete="SET NULL",
            name="fk_api_keys_created_by_api_keys",
        ),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
        sa.CheckConstraint("role IN ('viewer','operator','engineer','admin')", name="ck_api_keys_role"),
        schema=SCHEMA,
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("actor_key_id", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column("actor_name", sa.String(100), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("object_type", sa.String(64), nullable=False),
        sa.Column("object_id", sa.String(128), nullable=False),
        sa.Column("details", postgresql.JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("request_id", sa.Text(), nullable=True),
        schema=SCHEMA,
    )
    op.create_index("ix_audit_events_at", "audit_events", ["at"], schema=SCHEMA)
    op.create_index("ix_audit_events_object", "audit_events", ["object_type", "object_id"], schema=SCHEMA)
    op.create_index("ix_audit_events_actor", "audit_events", ["actor_key_id"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("audit_events", schema=SCHEMA)
    op.drop_table("api_keys", schema=SCHEMA)
