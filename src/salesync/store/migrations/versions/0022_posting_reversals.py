"""posting reversals: which posting takes a revision of a document out of the books

An edit that moves a posted document to another day is adjusted by a reversal on the old
day and a booking on the new one. The reversal covered nothing, so a reversal the books
refused (a closed period) left the document in the books on both days while
reconciliation showed both clean. Each reversal is now linked to the document, the
revision it takes out and the day it is dated on; ``posting_documents`` keeps meaning
"this revision is in the books".

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "posting_reversals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("destination", sa.String(length=64), nullable=False),
        sa.Column("location_id", sa.String(length=64), nullable=False),
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("business_day", sa.Date(), nullable=False),
        sa.Column("posting_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_posting_reversals_document_id_documents"),
        ),
        sa.ForeignKeyConstraint(
            ["posting_id"], ["postings.id"], name=op.f("fk_posting_reversals_posting_id_postings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_posting_reversals")),
    )
    with op.batch_alter_table("posting_reversals", schema=None) as batch_op:
        batch_op.create_index(
            "ix_posting_reversals_day", ["tenant_id", "location_id", "business_day"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_posting_reversals_document_id"), ["document_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_posting_reversals_posting_id"), ["posting_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("posting_reversals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_posting_reversals_posting_id"))
        batch_op.drop_index(batch_op.f("ix_posting_reversals_document_id"))
        batch_op.drop_index("ix_posting_reversals_day")
    op.drop_table("posting_reversals")
