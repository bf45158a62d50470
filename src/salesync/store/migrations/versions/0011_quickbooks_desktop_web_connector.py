"""QuickBooks Desktop company files, Web Connector sessions and qbXML work

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import salesync.store.types

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "qbd_sessions",
        sa.Column("ticket", sa.String(length=64), nullable=False),
        sa.Column("connection_id", sa.String(length=36), nullable=False),
        sa.Column("started_at", salesync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("seen_at", salesync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", salesync.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("work_id", sa.Integer(), nullable=True),
        sa.Column("handled", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("ticket", name=op.f("pk_qbd_sessions")),
    )
    with op.batch_alter_table("qbd_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_qbd_sessions_connection_id"), ["connection_id"], unique=False
        )

    op.create_table(
        "qbd_work",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("connection_id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("iterator_id", sa.String(length=64), nullable=True),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("error_code", sa.String(length=16), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("created_at", salesync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", salesync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qbd_work")),
        sa.UniqueConstraint("connection_id", "key", name=op.f("uq_qbd_work_connection_id_key")),
    )
    with op.batch_alter_table("qbd_work", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_qbd_work_connection_id"), ["connection_id"], unique=False
        )

    op.create_table(
        "qbd_company_files",
        sa.Column("connection_id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=120), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("owner_id", sa.String(length=38), nullable=False),
        sa.Column("file_id", sa.String(length=38), nullable=False),
        sa.Column("company_file", sa.Text(), nullable=False),
        sa.Column(
            "last_checkin_at", salesync.store.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("created_at", salesync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_qbd_company_files_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("connection_id", name=op.f("pk_qbd_company_files")),
        sa.UniqueConstraint("username", name=op.f("uq_qbd_company_files_username")),
    )
    with op.batch_alter_table("qbd_company_files", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_qbd_company_files_tenant_id"), ["tenant_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("qbd_company_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_qbd_company_files_tenant_id"))

    op.drop_table("qbd_company_files")
    with op.batch_alter_table("qbd_work", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_qbd_work_connection_id"))

    op.drop_table("qbd_work")
    with op.batch_alter_table("qbd_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_qbd_sessions_connection_id"))

    op.drop_table("qbd_sessions")
