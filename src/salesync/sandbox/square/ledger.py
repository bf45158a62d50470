"""Payouts: each location's card balance swept to the bank once a day.

In the US a payout holds the card activity between 5 p.m. one day and 5 p.m. the next
(https://developer.squareup.com/docs/payouts/overview). Each card payment is a ``CHARGE``
entry (gross = amount with tip, fee = processing fee) and each card refund a ``REFUND``
entry (negative gross); the payout amount is the sum of the entries' net amounts, which
is what Square promises for batch payouts
(https://developer.squareup.com/reference/square/objects/PayoutEntry). Cash never passes
through Square, so it is in no payout.

A payout the bank refuses turns ``FAILED`` (a new version, announced by ``payout.failed``);
its money goes back to the location's balance and the location's next payout carries it
as a ``RETURNED_PAYOUT`` entry
(https://developer.squareup.com/reference/square/enums/ActivityType).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from salesync.sandbox.square.records import Payout, PayoutEntry, SquareLocation
from salesync.sandbox.square.seller import SquareSeller
from salesync.sandbox.square.views import payout_json

CUTOFF = time(17)


class SquarePayouts:
    """Issues the daily payout of every location once its cutoff has passed."""

    def __init__(self, seller: SquareSeller) -> None:
        self.seller = seller
        self._settled: dict[str, datetime] = {}
        self._returned: dict[str, list[Payout]] = {}
        """Failed payouts of each location, not yet paid out again."""

    def fail(self, payout_id: str) -> Payout:
        """The bank refuses ``payout_id``: it turns ``FAILED`` and its money waits for the
        location's next payout."""
        with self.seller.lock:
            payout = self.seller.data.payouts[payout_id]
            if payout.status == "FAILED":
                return payout
            failed = replace(
                payout, status="FAILED", version=payout.version + 1, updated_at=self.seller.now()
            )
            self.seller.data.payouts[payout_id] = failed
            self._returned.setdefault(payout.location_id, []).append(failed)
        self.seller.emit("payout.failed", "payout", payout_id, {"payout": payout_json(failed)})
        return failed

    def settle(self) -> list[Payout]:
        """Pay out every location whose latest cutoff has not been settled yet."""
        with self.seller.lock:
            locations = list(self.seller.data.locations.values())
        return [p for location in locations if (p := self._settle(location)) is not None]

    def _settle(self, location: SquareLocation) -> Payout | None:
        zone = ZoneInfo(location.timezone)
        local = self.seller.now().astimezone(zone)
        cutoff = datetime.combine(local.date(), CUTOFF, zone)
        if local < cutoff:
            cutoff -= timedelta(days=1)
        since = self._settled.get(location.id)
        if since is not None and cutoff <= since:
            return None
        self._settled[location.id] = cutoff
        payout_id = f"po_{self.seller.new_id(20).lower()}"
        entries = self._entries(location.id, payout_id, since, cutoff)
        with self.seller.lock:
            returned = self._returned.pop(location.id, [])
        entries += [
            PayoutEntry(
                id=f"poe_{self.seller.new_id(20).lower()}",
                payout_id=payout_id,
                effective_at=failed.updated_at or cutoff,
                type="RETURNED_PAYOUT",
                gross=failed.amount,
                fee=0,
                currency=failed.currency,
                payment_id=None,
            )
            for failed in returned
        ]
        if not entries:
            return None
        payout = Payout(
            id=payout_id,
            location_id=location.id,
            amount=sum(e.net for e in entries),
            currency=location.currency,
            created_at=cutoff,
            arrival_date=cutoff.date() + timedelta(days=1),
            destination_id=f"bact:{self.seller.merchant_id.lower()}",
        )
        with self.seller.lock:
            self.seller.data.payouts[payout.id] = payout
            for entry in entries:
                self.seller.data.payout_entries[entry.id] = entry
        return payout

    def _entries(
        self, location_id: str, payout_id: str, since: datetime | None, cutoff: datetime
    ) -> list[PayoutEntry]:
        def inside(instant: datetime) -> bool:
            return (since is None or instant > since) and instant <= cutoff

        data = self.seller.data
        with self.seller.lock:
            payments = [
                p
                for p in data.payments.values()
                if p.location_id == location_id and p.source_type == "CARD" and inside(p.created_at)
            ]
            refunds = [
                r
                for r in data.refunds.values()
                if r.location_id == location_id
                and r.destination_type == "CARD"
                and inside(r.created_at)
            ]
        entries = [
            PayoutEntry(
                id=f"poe_{self.seller.new_id(20).lower()}",
                payout_id=payout_id,
                effective_at=p.created_at,
                type="CHARGE",
                gross=p.total,
                fee=p.processing_fee,
                currency=p.currency,
                payment_id=p.id,
            )
            for p in payments
        ]
        # Square keeps its processing fee when a payment is refunded, so a refund entry
        # carries no fee.
        entries += [
            PayoutEntry(
                id=f"poe_{self.seller.new_id(20).lower()}",
                payout_id=payout_id,
                effective_at=r.created_at,
                type="REFUND",
                gross=-r.amount,
                fee=0,
                currency=r.currency,
                payment_id=r.payment_id,
                refund_id=r.id,
            )
            for r in refunds
        ]
        return sorted(entries, key=lambda e: (e.effective_at, e.id))
