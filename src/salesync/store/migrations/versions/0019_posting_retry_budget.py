"""posting retry budget: a released posting keeps the count of its attempts

Releasing a held or failed posting used to set its attempts back to 0, which also made
its next attempt a first one, never read back: a write that had landed before the hold
(a lost response) was made a second time. The attempts now stay counted, and the budget
of retries after a release counts from ``budget_from``.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("postings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("budget_from", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("postings", schema=None) as batch_op:
        batch_op.drop_column("budget_from")
