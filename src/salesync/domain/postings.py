"""Journal entries for documents: where every part of a sale, refund or payout posts.

``AccountPlan`` is the built-in chart's default placement. Mapping rules refine it per
tenant; whatever they decide, an entry produced here always balances.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from salesync.domain.documents import (
    LineKind,
    Location,
    Payment,
    Payout,
    Refund,
    RefundLine,
    Sale,
    SaleLine,
    TaxLine,
    TaxMode,
    business_day,
)
from salesync.domain.journal import (
    Account,
    ChartOfAccounts,
    JournalEntry,
    JournalLine,
    account_component,
    compact,
)
from salesync.domain.money import Money, total


class Placement(Protocol):
    """Decides the account for each part of a document.

    ``AccountPlan`` places by simple defaults; mapping rules place by the merchant's own
    mappings and refuse values they do not know. Fixed roles are plain accounts.
    """

    @property
    def discounts(self) -> str: ...
    @property
    def returns(self) -> str: ...
    @property
    def shipping(self) -> str: ...
    @property
    def service_charges(self) -> str: ...
    @property
    def tips(self) -> str: ...
    @property
    def gift_cards(self) -> str: ...
    @property
    def bank(self) -> str: ...
    @property
    def fees(self) -> str: ...
    @property
    def payout_adjustments(self) -> str: ...
    @property
    def rounding(self) -> str: ...

    def income_for(self, line: SaleLine | RefundLine) -> str:
        """The income account for a line of goods."""
        ...

    def tax_for(self, tax: TaxLine) -> str:
        """The liability account for a tax line."""
        ...

    def tender_for(self, payment: Payment) -> str:
        """The account a tender's money lands in (clearing, cash drawer, liability)."""
        ...

    def payout_clearing(self, payout: Payout) -> str:
        """The clearing account a payout empties into the bank."""
        ...

    def settlement_account(self, currency: str) -> str:
        """The clearing account payouts in ``currency`` empty: a document paid only
        through it waits for its payout in per-payout mode."""
        ...


@dataclass(frozen=True, slots=True)
class AccountPlan:
    """Default account for each role a document's amounts play."""

    income_prefix: str = "Income:Sales"
    discounts: str = "Income:Discounts"
    returns: str = "Income:Returns"
    shipping: str = "Income:Shipping"
    service_charges: str = "Income:Service-Charges"
    tips: str = "Liabilities:Tips-Payable"
    tax_prefix: str = "Liabilities:Sales-Tax"
    gift_cards: str = "Liabilities:Gift-Cards"
    store_credit: str = "Liabilities:Store-Credit"
    cash: str = "Assets:Cash-Drawer"
    clearing_prefix: str = "Assets:Clearing"
    bank: str = "Assets:Bank"
    fees: str = "Expenses:Payment-Fees"
    payout_adjustments: str = "Expenses:Payout-Adjustments"
    rounding: str = "Expenses:Rounding"
    payout_tender: str = "card"
    """The tender whose clearing account a payout empties."""

    def income(self, category: str) -> str:
        return f"{self.income_prefix}:{account_component(category)}"

    def tax(self, name: str) -> str:
        return f"{self.tax_prefix}:{account_component(name)}"

    def tender(self, tender: str) -> str:
        if tender == "cash":
            return self.cash
        if tender == "gift_card":
            return self.gift_cards
        if tender == "store_credit":
            return self.store_credit
        return f"{self.clearing_prefix}:{account_component(tender)}"

    def income_for(self, line: SaleLine | RefundLine) -> str:
        return self.income(line.category)

    def tax_for(self, tax: TaxLine) -> str:
        return self.tax(tax.name)

    def tender_for(self, payment: Payment) -> str:
        return self.tender(payment.tender)

    def payout_clearing(self, payout: Payout) -> str:
        return self.settlement_account(payout.currency)

    def settlement_account(self, currency: str) -> str:
        return self.tender(self.payout_tender)

    def chart(self, extra: Iterable[str] = ()) -> ChartOfAccounts:
        """The fixed accounts of this plan plus ``extra`` (categories, taxes, tenders seen)."""
        fixed = [
            self.discounts,
            self.returns,
            self.shipping,
            self.service_charges,
            self.tips,
            self.gift_cards,
            self.store_credit,
            self.cash,
            self.bank,
            self.fees,
            self.payout_adjustments,
            self.rounding,
        ]
        return ChartOfAccounts(tuple(Account(n) for n in fixed)).with_accounts(extra)


DEFAULT_PLAN = AccountPlan()


def _ex_tax(amount: Money, taxes: Iterable[TaxLine], mode: TaxMode) -> Money:
    if mode is TaxMode.INCLUSIVE:
        return amount - total((t.amount for t in taxes), amount.currency)
    return amount


def _with_rounding(lines: list[JournalLine], plan: Placement, currency: str) -> list[JournalLine]:
    """Round every leg, then book what rounding left over (bounded by validation)."""
    rounded = [JournalLine(ln.account, ln.amount.rounded(), ln.memo) for ln in lines]
    residual = total((ln.amount for ln in rounded), currency)
    if residual:
        rounded.append(JournalLine(plan.rounding, -residual, "rounding"))
    return rounded


def sale_lines(sale: Sale, plan: Placement = DEFAULT_PLAN) -> list[JournalLine]:
    """The legs of one sale: tenders debited; income, tax, tips and liabilities credited."""
    mode = sale.tax_mode
    legs = [JournalLine(plan.tender_for(p), p.amount, p.tender) for p in sale.payments]
    for line in sale.lines:
        if line.kind is LineKind.GIFT_CARD:
            liability = -_ex_tax(line.net, line.taxes, mode)
            legs.append(JournalLine(plan.gift_cards, liability, "gift card sold"))
            continue
        legs.append(JournalLine(plan.income_for(line), -_ex_tax(line.gross, line.taxes, mode)))
        if line.discounts:
            legs.append(JournalLine(plan.discounts, line.discount_total))
    if sale.order_discounts:
        legs.append(JournalLine(plan.discounts, sale.order_discount_total))
    if sale.shipping is not None:
        legs.append(JournalLine(plan.shipping, -_ex_tax(sale.shipping, sale.shipping_taxes, mode)))
    for charge in sale.service_charges:
        legs.append(JournalLine(plan.service_charges, -_ex_tax(charge.amount, charge.taxes, mode)))
    if sale.tip is not None:
        legs.append(JournalLine(plan.tips, -sale.tip))
    legs += [JournalLine(plan.tax_for(t), -t.amount) for t in sale.taxes]
    return _with_rounding(legs, plan, sale.currency)


def refund_lines(refund: Refund, plan: Placement = DEFAULT_PLAN) -> list[JournalLine]:
    """The legs of one refund: the sale's legs in reverse, to the refund's own tenders."""
    mode = refund.tax_mode
    legs = [JournalLine(plan.tender_for(p), -p.amount, p.tender) for p in refund.payments]
    for line in refund.lines:
        account = plan.gift_cards if line.kind is LineKind.GIFT_CARD else plan.returns
        legs.append(JournalLine(account, _ex_tax(line.amount, line.taxes, mode)))
    if refund.shipping is not None:
        legs.append(
            JournalLine(plan.shipping, _ex_tax(refund.shipping, refund.shipping_taxes, mode))
        )
    legs += [JournalLine(plan.tax_for(t), t.amount) for t in refund.taxes]
    return _with_rounding(legs, plan, refund.currency)


RETURNED = "returned to the processor: the payout failed"
"""The memo of a failed payout's deposit, kept in the clearing account."""


def payout_lines(payout: Payout, plan: Placement = DEFAULT_PLAN) -> list[JournalLine]:
    """The legs of a payout: the deposit and fees debited, the clearing account emptied.

    A failed payout's deposit stays in the clearing account (the processor holds the money
    again), its fees and settlement stand; money a later payout pays out again leaves the
    clearing account on that payout."""
    clearing = plan.payout_clearing(payout)
    deposit = JournalLine(plan.bank, payout.net, "deposit")
    if payout.failed:
        deposit = JournalLine(clearing, payout.net, RETURNED)
    legs = [
        deposit,
        JournalLine(plan.fees, payout.fees, "processing fees"),
        JournalLine(clearing, -payout.gross, "settled"),
    ]
    if payout.adjustments:
        legs.append(JournalLine(plan.payout_adjustments, -payout.adjustments, "adjustments"))
    if payout.returned:
        legs.append(JournalLine(clearing, -payout.returned, "paid out again after a failure"))
    return _with_rounding(legs, plan, payout.currency)


def journal_for(
    document: Sale | Refund | Payout,
    location: Location,
    plan: Placement = DEFAULT_PLAN,
    *,
    key: str | None = None,
) -> JournalEntry:
    """One balanced entry for one document, dated on its business day; ``key`` in place
    of the default ``{kind}:{source}:{external_id}``."""
    if isinstance(document, Sale):
        legs = sale_lines(document, plan)
        narration = f"Sale {document.number or document.external_id}"
    elif isinstance(document, Refund):
        legs = refund_lines(document, plan)
        narration = f"Refund {document.external_id} of sale {document.sale_id}"
    else:
        legs = payout_lines(document, plan)
        narration = f"Payout {document.external_id}"
    return JournalEntry(
        key=key or f"{document.kind.value}:{document.source}:{document.external_id}",
        tenant_id=document.tenant_id,
        location_id=document.location_id,
        date=business_day(document.occurred_at, location.zone),
        narration=narration,
        lines=compact(legs),
        documents=(document.id,),
    )
