"""documents by time, postings by when they posted: the sales log reads a page, not a history

The sales log's newest-first page and its "synced through" line each read every document
of the tenant (about a second a page at 150,000 orders). With documents indexed by tenant
and time, a page is read from the newest end; with postings indexed by location and
posting time, the last sync is one lookup.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-24
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.create_index("ix_documents_time", ["tenant_id", "occurred_at", "id"], unique=False)
    with op.batch_alter_table("postings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_postings_posted", ["location_id", "tenant_id", "posted_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("postings", schema=None) as batch_op:
        batch_op.drop_index("ix_postings_posted")
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index("ix_documents_time")
