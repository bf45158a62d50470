"""read_back_windows: after a restore from backup, postings are read back before writing

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import salesync.store.types

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "read_back_windows",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("started_at", salesync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("until", salesync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_read_back_windows")),
    )
    with op.batch_alter_table("read_back_windows", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_read_back_windows_until"), ["until"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("read_back_windows", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_read_back_windows_until"))
    op.drop_table("read_back_windows")
