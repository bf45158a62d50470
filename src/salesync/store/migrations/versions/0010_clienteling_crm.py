"""clienteling CRM: clients, their contacts and field origins, links to source customers,
products, CRM sales, triggers, firings, follow-up tasks, repairs and messages

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import salesync.store.types

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The CRM asks, for each sale, whether it came by the initial import.
    with op.batch_alter_table("inbox_records", schema=None) as batch_op:
        batch_op.create_index(
            "ix_inbox_records_document", ["tenant_id", "document_id"], unique=False
        )
    op.create_table(
        "crm_clients",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("opted_out", sa.Boolean(), nullable=False),
        sa.Column("unsubscribe_token", sa.String(length=64), nullable=False),
        sa.Column("merged_into", sa.Integer(), nullable=True),
        sa.Column("created_at", salesync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_crm_clients_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_clients")),
        sa.UniqueConstraint("unsubscribe_token", name=op.f("uq_crm_clients_unsubscribe_token")),
    )
    with op.batch_alter_table("crm_clients", schema=None) as batch_op:
        batch_op.create_index("ix_crm_clients_tenant", ["tenant_id", "merged_into"], unique=False)

    op.create_table(
        "crm_triggers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", salesync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_crm_triggers_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_triggers")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_crm_triggers_tenant_id_name")),
    )
    op.create_table(
        "crm_contacts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("value", sa.String(length=320), nullable=False),
        sa.Column("origin", sa.String(length=8), nullable=False),
        sa.Column("added_at", salesync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["crm_clients.id"], name=op.f("fk_crm_contacts_client_id_crm_clients")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_crm_contacts_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_contacts")),
        sa.UniqueConstraint(
            "tenant_id", "kind", "value", name=op.f("uq_crm_contacts_tenant_id_kind_value")
        ),
    )
    with op.batch_alter_table("crm_contacts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_crm_contacts_client_id"), ["client_id"], unique=False)

    op.create_table(
        "crm_fields",
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=16), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("origin", sa.String(length=8), nullable=False),
        sa.Column("changed_at", salesync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["crm_clients.id"], name=op.f("fk_crm_fields_client_id_crm_clients")
        ),
        sa.PrimaryKeyConstraint("client_id", "field", name=op.f("pk_crm_fields")),
    )
    op.create_table(
        "crm_links",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("synced_at", salesync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["crm_clients.id"], name=op.f("fk_crm_links_client_id_crm_clients")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "customer_id"],
            ["customers.tenant_id", "customers.id"],
            name=op.f("fk_crm_links_tenant_id_customers"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "customer_id", name=op.f("pk_crm_links")),
    )
    with op.batch_alter_table("crm_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_crm_links_client_id"), ["client_id"], unique=False)

    op.create_table(
        "crm_products",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("product_id", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=120), nullable=False),
        sa.Column("price_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("synced_at", salesync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "product_id"],
            ["products.tenant_id", "products.id"],
            name=op.f("fk_crm_products_tenant_id_products"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "product_id", name=op.f("pk_crm_products")),
    )
    op.create_table(
        "crm_repairs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("reference", sa.String(length=120), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("created_at", salesync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", salesync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["crm_clients.id"], name=op.f("fk_crm_repairs_client_id_crm_clients")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_crm_repairs_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_repairs")),
        sa.UniqueConstraint(
            "tenant_id", "reference", name=op.f("uq_crm_repairs_tenant_id_reference")
        ),
    )
    with op.batch_alter_table("crm_repairs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_crm_repairs_client_id"), ["client_id"], unique=False)

    op.create_table(
        "crm_sales",
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("location_id", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("number", sa.String(length=200), nullable=True),
        sa.Column("customer_id", sa.String(length=64), nullable=True),
        sa.Column("associate", sa.String(length=200), nullable=True),
        sa.Column("occurred_at", salesync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("business_day", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("synced_at", salesync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("historical", sa.Boolean(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name=op.f("fk_crm_sales_document_id_documents")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "location_id"],
            ["locations.tenant_id", "locations.id"],
            name=op.f("fk_crm_sales_tenant_id_locations"),
        ),
        sa.PrimaryKeyConstraint("document_id", name=op.f("pk_crm_sales")),
    )
    with op.batch_alter_table("crm_sales", schema=None) as batch_op:
        batch_op.create_index(
            "ix_crm_sales_day", ["tenant_id", "location_id", "business_day"], unique=False
        )
        batch_op.create_index("ix_crm_sales_synced", ["tenant_id", "synced_at"], unique=False)

    op.create_table(
        "crm_firings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("trigger_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("due_at", salesync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("at", salesync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["crm_sales.document_id"],
            name=op.f("fk_crm_firings_document_id_crm_sales"),
        ),
        sa.ForeignKeyConstraint(
            ["trigger_id"], ["crm_triggers.id"], name=op.f("fk_crm_firings_trigger_id_crm_triggers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_firings")),
        sa.UniqueConstraint(
            "trigger_id", "document_id", name=op.f("uq_crm_firings_trigger_id_document_id")
        ),
    )
    with op.batch_alter_table("crm_firings", schema=None) as batch_op:
        batch_op.create_index("ix_crm_firings_tenant", ["tenant_id", "at"], unique=False)

    op.create_table(
        "crm_messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("firing_id", sa.Integer(), nullable=True),
        sa.Column("repair_id", sa.Integer(), nullable=True),
        sa.Column("client_id", sa.Integer(), nullable=True),
        sa.Column("recipient", sa.String(length=320), nullable=True),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("due_at", salesync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", salesync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", salesync.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["crm_clients.id"], name=op.f("fk_crm_messages_client_id_crm_clients")
        ),
        sa.ForeignKeyConstraint(
            ["firing_id"], ["crm_firings.id"], name=op.f("fk_crm_messages_firing_id_crm_firings")
        ),
        sa.ForeignKeyConstraint(
            ["repair_id"], ["crm_repairs.id"], name=op.f("fk_crm_messages_repair_id_crm_repairs")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_crm_messages_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_messages")),
        sa.UniqueConstraint("firing_id", name=op.f("uq_crm_messages_firing_id")),
    )
    with op.batch_alter_table("crm_messages", schema=None) as batch_op:
        batch_op.create_index("ix_crm_messages_state", ["state", "due_at"], unique=False)

    op.create_table(
        "crm_tasks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("firing_id", sa.Integer(), nullable=True),
        sa.Column("client_id", sa.Integer(), nullable=True),
        sa.Column("document_id", sa.String(length=36), nullable=True),
        sa.Column("assignee", sa.String(length=200), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("due_at", salesync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("created_at", salesync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["crm_clients.id"], name=op.f("fk_crm_tasks_client_id_crm_clients")
        ),
        sa.ForeignKeyConstraint(
            ["firing_id"], ["crm_firings.id"], name=op.f("fk_crm_tasks_firing_id_crm_firings")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_crm_tasks_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_tasks")),
        sa.UniqueConstraint("firing_id", name=op.f("uq_crm_tasks_firing_id")),
    )
    with op.batch_alter_table("crm_tasks", schema=None) as batch_op:
        batch_op.create_index("ix_crm_tasks_tenant", ["tenant_id", "done", "due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("inbox_records", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_records_document")
    with op.batch_alter_table("crm_tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_crm_tasks_tenant")

    op.drop_table("crm_tasks")
    with op.batch_alter_table("crm_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_crm_messages_state")

    op.drop_table("crm_messages")
    with op.batch_alter_table("crm_firings", schema=None) as batch_op:
        batch_op.drop_index("ix_crm_firings_tenant")

    op.drop_table("crm_firings")
    with op.batch_alter_table("crm_sales", schema=None) as batch_op:
        batch_op.drop_index("ix_crm_sales_synced")
        batch_op.drop_index("ix_crm_sales_day")

    op.drop_table("crm_sales")
    with op.batch_alter_table("crm_repairs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_repairs_client_id"))

    op.drop_table("crm_repairs")
    op.drop_table("crm_products")
    with op.batch_alter_table("crm_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_links_client_id"))

    op.drop_table("crm_links")
    op.drop_table("crm_fields")
    with op.batch_alter_table("crm_contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_contacts_client_id"))

    op.drop_table("crm_contacts")
    op.drop_table("crm_triggers")
    with op.batch_alter_table("crm_clients", schema=None) as batch_op:
        batch_op.drop_index("ix_crm_clients_tenant")

    op.drop_table("crm_clients")
