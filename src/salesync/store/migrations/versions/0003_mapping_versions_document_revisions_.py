"""mapping versions, document revisions, adjustments, held queue, backfills

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "backfills",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.Column("next_day", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_backfills_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backfills")),
    )
    with op.batch_alter_table("backfills", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_backfills_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "mapping_versions",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_mapping_versions_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "version", name=op.f("pk_mapping_versions")),
    )
    op.create_table(
        "document_revisions",
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("body_hash", sa.String(length=64), nullable=False),
        sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_document_revisions_document_id_documents"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_document_revisions_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("document_id", "revision", name=op.f("pk_document_revisions")),
    )
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revision", sa.Integer(), server_default="1", nullable=False))

    with op.batch_alter_table("inbox_records", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("origin", sa.String(length=16), server_default="live", nullable=False)
        )

    with op.batch_alter_table("posting_documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revision", sa.Integer(), server_default="1", nullable=False))
        batch_op.drop_constraint(
            batch_op.f("uq_posting_documents_tenant_id_destination_document_id"), type_="unique"
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_posting_documents_tenant_id_destination_document_id_revision"),
            ["tenant_id", "destination", "document_id", "revision"],
        )

    with op.batch_alter_table("postings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mapping_version", sa.Integer(), nullable=True))

    with op.batch_alter_table("queued_documents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("held", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("problems", sa.JSON(), server_default="[]", nullable=False))
        batch_op.add_column(sa.Column("mapping_version", sa.Integer(), nullable=True))


def downgrade() -> None:

    with op.batch_alter_table("queued_documents", schema=None) as batch_op:
        batch_op.drop_column("mapping_version")
        batch_op.drop_column("problems")
        batch_op.drop_column("held")

    with op.batch_alter_table("postings", schema=None) as batch_op:
        batch_op.drop_column("mapping_version")

    with op.batch_alter_table("posting_documents", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_posting_documents_tenant_id_destination_document_id_revision"),
            type_="unique",
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_posting_documents_tenant_id_destination_document_id"),
            ["tenant_id", "destination", "document_id"],
        )
        batch_op.drop_column("revision")

    with op.batch_alter_table("inbox_records", schema=None) as batch_op:
        batch_op.drop_column("origin")

    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_column("revision")

    op.drop_table("document_revisions")
    op.drop_table("mapping_versions")
    with op.batch_alter_table("backfills", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_backfills_tenant_id"))

    op.drop_table("backfills")
