"""document source time: when the source last changed a document, as it says

A body equal to an earlier revision used to be taken for a stale redelivery. That dropped
a revert at the source (A, then B, then A again: the books stayed at B), and webhooks
delivered out of turn (A, C, then a late B) made the older B current. The time the source
gives orders them; documents stored before it stay ordered by their bodies.

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from salesync.store.types import UTCDateTime

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("source_updated_at", UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_column("source_updated_at")
