"""backfills.connection_id (workers reopen the source); queued_documents.plannable_at

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import salesync.store.types

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("backfills", schema=None) as batch_op:
        batch_op.add_column(sa.Column("connection_id", sa.String(length=36), nullable=True))
    with op.batch_alter_table("queued_documents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "plannable_at", salesync.store.types.UTCDateTime(timezone=True), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("queued_documents", schema=None) as batch_op:
        batch_op.drop_column("plannable_at")
    with op.batch_alter_table("backfills", schema=None) as batch_op:
        batch_op.drop_column("connection_id")
