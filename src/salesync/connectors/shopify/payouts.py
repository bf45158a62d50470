"""Shopify Payments payouts as salesync payouts, from their balance transactions.

A payout sweeps the balance transactions issued into it: charges (card sales), refunds,
adjustments such as chargeback fees, and the transfer of the net to the bank
(https://shopify.dev/docs/api/admin-graphql/latest/objects/ShopifyPaymentsBalanceTransaction).
The payout's transactions name the documents they settle: a charge its order (the sale's
external id), a refund its refund, found through the refund's order transaction.
"""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from salesync.connectors.shopify.nodes import GlobalReference, GraphNode, MoneyV2
from salesync.connectors.shopify.orders import legacy_id
from salesync.connectors.shopify.problems import refused
from salesync.connectors.shopify.sales import amounts, located
from salesync.connectors.source import Skip, SourceContext
from salesync.domain.documents import DocumentKind, Payout, PayoutTransaction, document_id
from salesync.domain.money import total
from salesync.domain.validation import Problem

NOT_PAID_OUT = {"FAILED": "failed", "CANCELED": "was canceled"}


class PayoutNode(GraphNode):
    legacy_resource_id: str
    issued_at: AwareDatetime
    status: str
    transaction_type: str = "DEPOSIT"
    net: MoneyV2


class BalanceTransactionNode(GraphNode):
    type: str
    test: bool = False
    source_order_transaction_id: str | None = None
    amount: MoneyV2
    fee: MoneyV2
    associated_order: GlobalReference | None = None


class PayoutRecord(BaseModel):
    """A payout with every balance transaction it swept, and the refund behind each
    refunded order transaction (``client.py`` reads them together)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    payout: PayoutNode
    balance_transactions: tuple[BalanceTransactionNode, ...]
    refunds: dict[str, str] = Field(default_factory=dict)


def payout_from(record: PayoutRecord, context: SourceContext) -> Payout | Skip:
    """The payout a record stands for, ``Skip`` when no money reached the bank, or
    ``ValidationError`` naming every problem."""
    node = record.payout
    what = f"payout {node.legacy_resource_id}"
    if node.status in NOT_PAID_OUT:
        return Skip(f"{what} {NOT_PAID_OUT[node.status]}; nothing reached the bank")
    currency = node.net.currency_code or ""
    money = amounts(currency, what)
    problems: list[Problem] = []
    location = located(context, None, "payout", problems)
    settled: list[PayoutTransaction] = []
    adjustments = Decimal(0)
    for i, row in enumerate(record.balance_transactions):
        if row.type == "TRANSFER" or row.test:
            continue
        order = None if row.associated_order is None else legacy_id(row.associated_order.id)
        if row.type == "CHARGE" and order is not None:
            settled.append(
                PayoutTransaction(order, "sale", money(row.amount.amount), money(row.fee.amount))
            )
        elif row.type == "REFUND" and order is not None:
            refund = record.refunds.get(row.source_order_transaction_id or "")
            if refund is None:
                problems.append(
                    Problem(
                        "unknown_refund",
                        f"refunds order {order}, but no refund of it holds order transaction "
                        f"{row.source_order_transaction_id}",
                        f"balance_transactions[{i}]",
                    )
                )
                continue
            settled.append(
                PayoutTransaction(refund, "refund", money(row.amount.amount), money(row.fee.amount))
            )
        else:
            # Chargeback fees, reserves and other movements not tied to a sale or refund.
            adjustments += row.amount.amount - row.fee.amount
    if problems or location is None:
        raise refused(what, problems)
    net = money(node.net.amount)
    return Payout(
        id=document_id(
            context.tenant_id, context.source, DocumentKind.PAYOUT, node.legacy_resource_id
        ),
        tenant_id=context.tenant_id,
        location_id=location,
        source=context.source,
        external_id=node.legacy_resource_id,
        occurred_at=node.issued_at.astimezone(UTC),
        currency=currency,
        gross=total((t.gross for t in settled), currency),
        fees=total((t.fee for t in settled), currency),
        # Shopify states a withdrawal's net as a positive amount of the other direction.
        net=-net if node.transaction_type == "WITHDRAWAL" else net,
        adjustments=money(adjustments) if adjustments else None,
        transactions=tuple(settled),
        # None: a payout has no time of change, only issuedAt, which a later status does
        # not move (https://shopify.dev/docs/api/admin-graphql/latest/objects/ShopifyPaymentsPayout).
        source_updated_at=None,
    )
