"""The Shopify Payments balance: charges, refunds and adjustments, swept into payouts.

Each card sale on ``shopify_payments`` becomes a CHARGE with its processing fee, each card
refund a REFUND (fees are not returned), and a payout sweeps every unpaid row processed
before its cutoff, recording a TRANSFER of the payout's net out of the balance, so the rows
of a payout always sum to zero and the payout's net equals the deposit.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Literal

from salesync.sandbox.shopify.records import (
    BalanceTransaction,
    Order,
    Payout,
    Transaction,
    money,
)
from salesync.sandbox.shopify.store import ShopifyStore

ONLINE_RATE, ONLINE_FIXED = Decimal("0.029"), Decimal("0.30")
IN_PERSON_RATE, IN_PERSON_FIXED = Decimal("0.027"), Decimal("0.00")


def processing_fee(amount: Decimal, *, in_person: bool) -> Decimal:
    """The card fee on a charge of ``amount``."""
    if in_person:
        return money(amount * IN_PERSON_RATE + IN_PERSON_FIXED)
    return money(amount * ONLINE_RATE + ONLINE_FIXED)


class ShopifyLedger:
    """Writes balance transactions and payouts into the store."""

    def __init__(self, store: ShopifyStore) -> None:
        self.store = store

    def _add(self, row: BalanceTransaction) -> BalanceTransaction:
        with self.store.lock:
            self.store.data.balance_transactions[row.id] = row
        return row

    def record(self, order: Order, txn: Transaction) -> BalanceTransaction | None:
        """The balance row for a successful Shopify Payments sale or refund, if any."""
        if txn.gateway != "shopify_payments" or txn.status != "SUCCESS" or txn.test:
            return None
        kind: Literal["CHARGE", "REFUND"]
        if txn.kind in ("SALE", "CAPTURE"):
            kind, amount = "CHARGE", txn.amount
            fee = processing_fee(txn.amount, in_person=order.source_name == "pos")
        elif txn.kind == "REFUND":
            kind, amount, fee = "REFUND", -txn.amount, Decimal("0.00")
        else:
            return None
        return self._add(
            BalanceTransaction(
                id=self.store.next_id(),
                type=kind,
                amount=amount,
                fee=fee,
                currency=order.currency,
                processed_at=txn.processed_at,
                order_id=order.id,
                order_name=order.name,
                source_order_transaction_id=txn.id,
            )
        )

    def adjust(self, amount: Decimal, reason: str) -> BalanceTransaction:
        """An adjustment on the balance, e.g. a chargeback fee (negative) or a reversal."""
        return self._add(
            BalanceTransaction(
                id=self.store.next_id(),
                type="ADJUSTMENT",
                amount=money(amount),
                fee=Decimal("0.00"),
                currency=self.store.currency,
                processed_at=self.store.now(),
                order_id=None,
                order_name=None,
                source_order_transaction_id=None,
                adjustment_reason=reason,
            )
        )

    def pay_out(self, *, issued_at: datetime, cutoff: datetime) -> Payout | None:
        """Sweep unpaid rows processed before ``cutoff`` into a payout issued at ``issued_at``."""
        with self.store.lock:
            data = self.store.data
            for earlier in list(data.payouts.values()):
                if earlier.status == "IN_TRANSIT":
                    data.payouts[earlier.id] = replace(earlier, status="PAID")
            rows = [
                b
                for b in data.balance_transactions.values()
                if b.payout_id is None and b.type != "TRANSFER" and b.processed_at < cutoff
            ]
            if not rows:
                return None

            def total(kind: str, field: str) -> Decimal:
                return money(sum((getattr(r, field) for r in rows if r.type == kind), Decimal(0)))

            payout = Payout(
                id=self.store.next_id(),
                issued_at=issued_at,
                currency=self.store.currency,
                status="IN_TRANSIT",
                charges_gross=total("CHARGE", "amount"),
                charges_fee=total("CHARGE", "fee"),
                refunds_gross=total("REFUND", "amount"),
                refunds_fee=total("REFUND", "fee"),
                adjustments_gross=total("ADJUSTMENT", "amount"),
                adjustments_fee=total("ADJUSTMENT", "fee"),
            )
            data.payouts[payout.id] = payout
            for row in rows:
                data.balance_transactions[row.id] = replace(row, payout_id=payout.id)
            transfer = BalanceTransaction(
                id=self.store.next_id(),
                type="TRANSFER",
                amount=-payout.net,
                fee=Decimal("0.00"),
                currency=payout.currency,
                processed_at=issued_at,
                order_id=None,
                order_name=None,
                source_order_transaction_id=None,
                payout_id=payout.id,
            )
            data.balance_transactions[transfer.id] = transfer
            return payout
