"""posting reversals: one per revision of a document and destination

A revision of a document is taken out of a destination's books once, by one reversal, as
it is brought in once (``posting_documents``). A second row for the same revision would
make reconciliation count the reversal twice; the unique index makes such a row fail
loudly instead. Rows repeating an earlier one (same revision, same posting) are dropped
first; none are expected.

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Only exact repeats (the same posting linked twice) go; two postings reversing one
    # revision would be a real double reversal, and the index below then fails loudly.
    op.execute(
        "DELETE FROM posting_reversals WHERE id NOT IN ("
        "SELECT MIN(id) FROM posting_reversals "
        "GROUP BY tenant_id, destination, document_id, revision, posting_id)"
    )
    with op.batch_alter_table("posting_reversals", schema=None) as batch_op:
        batch_op.create_index(
            "uq_posting_reversals_revision",
            ["tenant_id", "destination", "document_id", "revision"],
            unique=True,
        )


def downgrade() -> None:
    with op.batch_alter_table("posting_reversals", schema=None) as batch_op:
        batch_op.drop_index("uq_posting_reversals_revision")
