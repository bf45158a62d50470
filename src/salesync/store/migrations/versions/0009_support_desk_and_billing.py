"""support desk and billing: subscriptions (replacing support_plans) and plan changes,
location periods, invoices, the developer-hour ledger, support requests, and the tickets'
SLA pause, breach alerts, tier and regression

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import salesync.store.types

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "invoices",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("plan", sa.String(length=32), nullable=False),
        sa.Column("period_start", salesync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("period_end", salesync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("issued_at", salesync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_invoices_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("number", name=op.f("uq_invoices_number")),
        sa.UniqueConstraint(
            "tenant_id", "kind", "key", name=op.f("uq_invoices_tenant_id_kind_key")
        ),
    )
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invoices_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "plan_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("at", salesync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("plan", sa.String(length=32), nullable=False),
        sa.Column("previous", sa.String(length=32), nullable=True),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_plan_changes_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_changes")),
    )
    with op.batch_alter_table("plan_changes", schema=None) as batch_op:
        batch_op.create_index("ix_plan_changes_tenant", ["tenant_id", "at"], unique=False)

    op.create_table(
        "subscriptions",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("plan", sa.String(length=32), nullable=False),
        sa.Column("started_at", salesync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("plan_since", salesync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", salesync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_subscriptions_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_subscriptions")),
    )
    op.create_table(
        "hour_entries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("year_start", salesync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("at", salesync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("entry", sa.String(length=16), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("invoice_id", sa.Integer(), nullable=True),
        sa.Column("request_key", sa.String(length=100), nullable=True),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_hour_entries_invoice_id_invoices")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_hour_entries_tenant_id_tenants")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_hour_entries_ticket_id_tickets")
        ),
        sa.UniqueConstraint(
            "tenant_id", "request_key", name=op.f("uq_hour_entries_tenant_id_request_key")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hour_entries")),
    )
    with op.batch_alter_table("hour_entries", schema=None) as batch_op:
        batch_op.create_index("ix_hour_entries_year", ["tenant_id", "year_start"], unique=False)

    op.create_table(
        "invoice_lines",
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("quantity", sa.String(length=32), nullable=False),
        sa.Column("unit_price_minor", sa.BigInteger(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
            name=op.f("fk_invoice_lines_invoice_id_invoices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("invoice_id", "line_no", name=op.f("pk_invoice_lines")),
    )
    op.create_table(
        "location_periods",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("location_id", sa.String(length=64), nullable=False),
        sa.Column("active_from", salesync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("active_until", salesync.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "location_id"],
            ["locations.tenant_id", "locations.id"],
            name=op.f("fk_location_periods_tenant_id_locations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_location_periods")),
    )
    with op.batch_alter_table("location_periods", schema=None) as batch_op:
        batch_op.create_index(
            "ix_location_periods_tenant", ["tenant_id", "location_id"], unique=False
        )

    op.create_table(
        "releases",
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("released_at", salesync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("areas", sa.JSON(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_releases")),
    )
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_releases_released_at"), ["released_at"], unique=False)

    op.create_table(
        "support_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("sender", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("message_id", sa.String(length=300), nullable=True),
        sa.Column("raw", sa.Text(), nullable=True),
        sa.Column("received_at", salesync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("in_scope", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("article", sa.String(length=120), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("triaged_at", salesync.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_support_requests_tenant_id_tenants")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_support_requests_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_requests")),
        sa.UniqueConstraint(
            "tenant_id", "message_id", name=op.f("uq_support_requests_tenant_id_message_id")
        ),
    )
    with op.batch_alter_table("support_requests", schema=None) as batch_op:
        batch_op.create_index(
            "ix_support_requests_tenant", ["tenant_id", "received_at"], unique=False
        )

    # Every tenant keeps its plan; periods and years start now, and every location is
    # active from when it was added.
    op.execute(
        "INSERT INTO subscriptions (tenant_id, plan, started_at, plan_since, updated_at) "
        "SELECT tenant_id, plan, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP "
        "FROM support_plans"
    )
    op.execute(
        "INSERT INTO plan_changes (tenant_id, at, plan, previous, actor, note) "
        "SELECT tenant_id, CURRENT_TIMESTAMP, plan, NULL, 'salesync', 'carried over' "
        "FROM support_plans"
    )
    op.execute(
        "INSERT INTO location_periods (tenant_id, location_id, active_from) "
        "SELECT tenant_id, id, created_at FROM locations"
    )
    op.drop_table("support_plans")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "waiting_since", salesync.store.types.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column(
                "respond_breached_at",
                salesync.store.types.UTCDateTime(timezone=True),
                nullable=True,
            )
        )
        batch_op.add_column(
            sa.Column(
                "resolve_breached_at",
                salesync.store.types.UTCDateTime(timezone=True),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("tier", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("regression", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("regression")
        batch_op.drop_column("tier")
        batch_op.drop_column("resolve_breached_at")
        batch_op.drop_column("respond_breached_at")
        batch_op.drop_column("waiting_since")

    op.create_table(
        "support_plans",
        sa.Column("tenant_id", sa.VARCHAR(length=64), nullable=False),
        sa.Column("plan", sa.VARCHAR(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_support_plans_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_support_plans")),
    )
    op.execute(
        "INSERT INTO support_plans (tenant_id, plan) SELECT tenant_id, plan FROM subscriptions"
    )
    with op.batch_alter_table("support_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_support_requests_tenant")

    op.drop_table("support_requests")
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_releases_released_at"))

    op.drop_table("releases")
    with op.batch_alter_table("location_periods", schema=None) as batch_op:
        batch_op.drop_index("ix_location_periods_tenant")

    op.drop_table("location_periods")
    op.drop_table("invoice_lines")
    with op.batch_alter_table("hour_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_hour_entries_year")

    op.drop_table("hour_entries")
    op.drop_table("subscriptions")
    with op.batch_alter_table("plan_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_plan_changes_tenant")

    op.drop_table("plan_changes")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoices_tenant_id"))

    op.drop_table("invoices")
