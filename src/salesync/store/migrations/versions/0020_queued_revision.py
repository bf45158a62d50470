"""queued revision: a queue row knows which revision of its document waits

On PostgreSQL an edit taken in while another worker planned the earlier revision could be
lost: the planner marked the row planned after the edit had queued it again, and the
books kept the earlier revision. The planner now marks a row planned only while it holds
the revision planned.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("queued_documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revision", sa.Integer(), server_default="1", nullable=False))
    op.execute(
        "UPDATE queued_documents SET revision = (SELECT documents.revision FROM documents "
        "WHERE documents.id = queued_documents.document_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("queued_documents", schema=None) as batch_op:
        batch_op.drop_column("revision")
