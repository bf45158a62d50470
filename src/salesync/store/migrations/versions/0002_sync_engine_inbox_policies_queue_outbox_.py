"""sync engine: inbox, policies, queue, outbox, runs

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=True),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
    )
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.create_index("ix_runs_tenant_started", ["tenant_id", "started_at"], unique=False)

    op.create_table(
        "inbox_records",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("connection_id", sa.String(length=36), nullable=True),
        sa.Column("record_type", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=True),
        sa.Column("dedupe_event", sa.String(length=200), nullable=True),
        sa.Column("dedupe_hash", sa.String(length=64), nullable=True),
        sa.Column("payload_hash", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("duplicate_of", sa.Integer(), nullable=True),
        sa.Column("parent_ref", sa.String(length=200), nullable=True),
        sa.Column("document_id", sa.String(length=36), nullable=True),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_inbox_records_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox_records")),
        sa.UniqueConstraint(
            "tenant_id",
            "source",
            "dedupe_event",
            name=op.f("uq_inbox_records_tenant_id_source_dedupe_event"),
        ),
        sa.UniqueConstraint(
            "tenant_id",
            "source",
            "dedupe_hash",
            name=op.f("uq_inbox_records_tenant_id_source_dedupe_hash"),
        ),
    )
    with op.batch_alter_table("inbox_records", schema=None) as batch_op:
        batch_op.create_index("ix_inbox_records_parent", ["tenant_id", "parent_ref"], unique=False)
        batch_op.create_index("ix_inbox_records_state", ["tenant_id", "state"], unique=False)

    op.create_table(
        "postings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("location_id", sa.String(length=64), nullable=False),
        sa.Column("destination", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("remote_ref", sa.String(length=200), nullable=True),
        sa.Column("last_error", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_postings_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_postings")),
        sa.UniqueConstraint(
            "tenant_id", "destination", "key", name=op.f("uq_postings_tenant_id_destination_key")
        ),
    )
    with op.batch_alter_table("postings", schema=None) as batch_op:
        batch_op.create_index("ix_postings_due", ["state", "next_attempt_at"], unique=False)

    op.create_table(
        "sync_policies",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("windows", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_sync_policies_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_policies")),
        sa.UniqueConstraint(
            "tenant_id", "source", "kind", name=op.f("uq_sync_policies_tenant_id_source_kind")
        ),
    )
    op.create_table(
        "location_settings",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("location_id", sa.String(length=64), nullable=False),
        sa.Column("posting_mode", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "location_id"],
            ["locations.tenant_id", "locations.id"],
            name=op.f("fk_location_settings_tenant_id_locations"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "location_id", name=op.f("pk_location_settings")),
    )
    op.create_table(
        "posting_documents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("destination", sa.String(length=64), nullable=False),
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("posting_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_posting_documents_document_id_documents"),
        ),
        sa.ForeignKeyConstraint(
            ["posting_id"], ["postings.id"], name=op.f("fk_posting_documents_posting_id_postings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_posting_documents")),
        sa.UniqueConstraint(
            "tenant_id",
            "destination",
            "document_id",
            name=op.f("uq_posting_documents_tenant_id_destination_document_id"),
        ),
    )
    with op.batch_alter_table("posting_documents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_posting_documents_posting_id"), ["posting_id"], unique=False
        )

    op.create_table(
        "queued_documents",
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("location_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("business_day", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("planned", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_queued_documents_document_id_documents"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_queued_documents_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("document_id", name=op.f("pk_queued_documents")),
    )
    with op.batch_alter_table("queued_documents", schema=None) as batch_op:
        batch_op.create_index(
            "ix_queued_documents_due", ["tenant_id", "planned", "due_at"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("queued_documents", schema=None) as batch_op:
        batch_op.drop_index("ix_queued_documents_due")

    op.drop_table("queued_documents")
    with op.batch_alter_table("posting_documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_posting_documents_posting_id"))

    op.drop_table("posting_documents")
    op.drop_table("location_settings")
    op.drop_table("sync_policies")
    with op.batch_alter_table("postings", schema=None) as batch_op:
        batch_op.drop_index("ix_postings_due")

    op.drop_table("postings")
    with op.batch_alter_table("inbox_records", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_records_state")
        batch_op.drop_index("ix_inbox_records_parent")

    op.drop_table("inbox_records")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ix_runs_tenant_started")

    op.drop_table("runs")
