"""source connections: settings, sweep cursors; products may share a SKU across sources

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.add_column(sa.Column("settings", sa.JSON(), server_default="{}", nullable=False))
    with op.batch_alter_table("products") as batch:
        batch.drop_constraint("uq_products_tenant_id_sku", type_="unique")
        batch.create_index("ix_products_sku", ["tenant_id", "sku"])
    op.create_table(
        "source_cursors",
        sa.Column("connection_id", sa.String(length=36), nullable=False),
        sa.Column("stream", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.Column("swept_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_source_cursors_connection_id_connections"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_source_cursors_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("connection_id", "stream", name=op.f("pk_source_cursors")),
    )
    op.create_index(
        op.f("ix_source_cursors_tenant_id"), "source_cursors", ["tenant_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_source_cursors_tenant_id"), table_name="source_cursors")
    op.drop_table("source_cursors")
    with op.batch_alter_table("products") as batch:
        batch.drop_index("ix_products_sku")
        batch.create_unique_constraint("uq_products_tenant_id_sku", ["tenant_id", "sku"])
    with op.batch_alter_table("connections") as batch:
        batch.drop_column("settings")
