"""documents: the parent index leads with the tenant

A refund's earlier refunds are looked up by tenant and parent; with only ``parent_id``
indexed, SQLite chose the tenant's day index and scanned the tenant's whole history for
each lookup, so a long backfill slowed as it went.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-24
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_documents_parent_id"))
        batch_op.create_index("ix_documents_parent", ["tenant_id", "parent_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index("ix_documents_parent")
        batch_op.create_index(batch_op.f("ix_documents_parent_id"), ["parent_id"], unique=False)
