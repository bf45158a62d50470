"""inbox by connection and time, postings by destination and time: health is a lookup

The connections' health (dashboard, REST) took the newest record and posting of each
connection by grouping the tenant's whole inbox and outbox (a tenth of a second at
150,000 orders, growing with the history); each is now read from the end of an index.
Both lead with the connection, so that queries of a tenant's records keep their indexes.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-24
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbox_records", schema=None) as batch_op:
        batch_op.create_index(
            "ix_inbox_records_received", ["connection_id", "tenant_id", "received_at"]
        )
    with op.batch_alter_table("postings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_postings_destination_posted", ["destination", "tenant_id", "posted_at"]
        )


def downgrade() -> None:
    with op.batch_alter_table("postings", schema=None) as batch_op:
        batch_op.drop_index("ix_postings_destination_posted")
    with op.batch_alter_table("inbox_records", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_records_received")
