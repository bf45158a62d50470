"""Mappings: the first matching rule decides, and an unmapped value is held, never guessed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salesync.domain.documents import LineKind, Payment, Payout, RefundLine, Sale
from salesync.domain.errors import ErrorKind, MappingError
from salesync.domain.money import Money, total
from salesync.domain.postings import Placement, journal_for
from salesync.domain.simulate import CATALOGUE, demo_merchant, simulate
from salesync.rules import (
    ConditionError,
    FixedAccounts,
    MappedPlacement,
    Rule,
    Target,
    problems,
)
from salesync.rules.conditions import literal

from .builders import AT, BROOKLYN, card, line, refund, sale, tax, usd
from .strategies import FIXED, Oracle, mapping_of, rule_lists

INCOME = (
    Rule(Target.INCOME, 'sku startswith "GIFT"', "Income:Gifts", item="Gift box"),
    Rule(Target.INCOME, 'category == "Coffee"', "Income:Coffee", item="Coffee"),
    Rule(Target.INCOME, 'category in ["Homeware", "Accessories"]', "Income:Goods"),
)
TAXES = (
    Rule(Target.TAX, "rate >= 0.2", "Liabilities:VAT:Standard", tax_code="20.0% S"),
    Rule(Target.TAX, "rate == 0.05", "Liabilities:VAT:Reduced", tax_code="5.0% R"),
    Rule(Target.TAX, 'tax_name == "NY sales tax"', "Liabilities:Sales-Tax:NY"),
)
TENDERS = (
    Rule(Target.TENDER, 'tender == "card" and card_brand == "amex"', "Assets:Clearing:Amex"),
    Rule(Target.TENDER, 'tender == "card"', "Assets:Clearing:Card"),
    Rule(Target.TENDER, 'tender == "cash"', "Assets:Cash-Drawer"),
)
MAPPING = mapping_of(*INCOME, *TAXES, *TENDERS, version=3)


def placement(source: str = "pos") -> MappedPlacement:
    return MappedPlacement(MAPPING, BROOKLYN.id, source, ("sale-1",))


def test_fixed_roles_come_from_the_mapping() -> None:
    """A mapping's placement serves wherever a Placement is taken, fixed roles included."""
    place: Placement = placement()
    assert (place.discounts, place.tips, place.bank) == (FIXED.discounts, FIXED.tips, FIXED.bank)
    assert (place.fees, place.rounding) == (FIXED.fees, FIXED.rounding)


@pytest.mark.parametrize(
    ("sku", "category", "account"),
    [
        ("GIFT-BOX", "Coffee", "Income:Gifts"),
        ("BEAN-007", "Coffee", "Income:Coffee"),
        ("MUG-005", "Homeware", "Income:Goods"),
        ("CAP-003", "Accessories", "Income:Goods"),
    ],
)
def test_first_matching_rule_wins(sku: str, category: str, account: str) -> None:
    """Rules are tried in order: a gift box in Coffee goes to gifts, the rule listed first."""
    assert placement().income_for(line(sku, category)) == account


def test_card_brands_route_to_their_own_clearing_accounts() -> None:
    """Amex settles separately, so its card takings clear through their own account."""
    assert placement().tender_for(card("10.00", "amex")) == "Assets:Clearing:Amex"
    assert placement().tender_for(card("10.00", "visa")) == "Assets:Clearing:Card"
    assert placement().tender_for(card("10.00", None)) == "Assets:Clearing:Card"
    assert placement().tender_for(Payment("cash", usd("5.00"))) == "Assets:Cash-Drawer"


def test_taxes_map_by_rate_and_carry_their_tax_codes() -> None:
    """A VAT rate decides the liability account and the destination's tax code."""
    standard = tax("VAT", "0.20")
    reduced = tax("VAT reduced", "0.050")
    assert placement().tax_for(standard) == "Liabilities:VAT:Standard"
    assert placement().tax_code_for(standard) == "20.0% S"
    assert placement().tax_for(reduced) == "Liabilities:VAT:Reduced"
    assert placement().tax_for(tax("NY sales tax")) == "Liabilities:Sales-Tax:NY"
    assert placement().tax_code_for(tax("NY sales tax")) is None


def test_income_rules_carry_the_destination_item() -> None:
    """The rule that gives a line its account also gives its item, when it names one."""
    assert placement().item_for(line("BEAN-007", "Coffee")) == "Coffee"
    assert placement().item_for(line("MUG-005", "Homeware")) is None


def test_rules_can_test_the_documents_source_and_location() -> None:
    """The same tender clears through a different account per payment provider."""
    mapping = mapping_of(
        Rule(Target.TENDER, 'tender == "card" and source == "shopify"', "Assets:Clearing:Shopify"),
        Rule(Target.TENDER, 'tender == "card" and location == "brooklyn"', "Assets:Clearing:BK"),
    )
    web = sale((line("MUG-005", "Homeware"),), (card("10.00"),), source="shopify")
    till = sale((line("MUG-005", "Homeware"),), (card("10.00"),), source="pos")
    assert mapping.placement_for(web).tender_for(card("1.00")) == "Assets:Clearing:Shopify"
    assert mapping.placement_for(till).tender_for(card("1.00")) == "Assets:Clearing:BK"


def test_account_templates_fill_in_the_matched_value() -> None:
    """`Income:Sales:{category}` names one account per category, as AccountPlan does."""
    mapping = mapping_of(Rule(Target.INCOME, "true", "Income:Sales:{category}"))
    place = MappedPlacement(mapping, "brooklyn", "pos")
    assert place.income_for(line("MUG-005", "Home ware")) == "Income:Sales:Home-Ware"
    assert place.income_for(line("MUG-005", "")) == "Income:Sales:Other"


def test_unmapped_category_names_the_exact_value_and_where_to_map_it() -> None:
    """SKU HOOD-002 in Apparel, with no rule for Apparel, is a mapping error, not a default."""
    with pytest.raises(MappingError) as caught:
        placement().income_for(line("HOOD-002", "Apparel"))
    error = caught.value
    assert error.kind is ErrorKind.MAPPING
    assert error.code == "unmapped_value"
    assert str(error) == (
        "SKU HOOD-002 in category 'Apparel' has no income account; "
        "add a rule for category 'Apparel' in the mapping (version 3)"
    )
    assert error.location == "brooklyn"
    assert error.documents == ("sale-1",)
    assert error.details == {
        "target": "income",
        "field": "category",
        "value": "Apparel",
        "mapping_version": 3,
        "suggested_rule": 'category == "Apparel"',
    }
    assert "Apparel" in error.user_message


@pytest.mark.parametrize(
    ("place", "message"),
    [
        (
            lambda p: p.income_for(line("HOOD-002", "")),
            "SKU HOOD-002 has no category and no income account; "
            "add a rule for sku 'HOOD-002' in the mapping (version 3)",
        ),
        (
            lambda p: p.income_for(RefundLine("HOOD-002", Decimal(1), usd("5"), "Apparel")),
            "SKU HOOD-002 in category 'Apparel' has no income account",
        ),
        (
            lambda p: p.tax_for(tax("City tax", "0.045")),
            "tax 'City tax' at rate 0.045 has no tax account; "
            "add a rule for tax_name 'City tax' in the mapping (version 3)",
        ),
        (
            lambda p: p.tender_for(Payment("mobile wallet", usd("1.00"))),
            "tender 'mobile wallet' has no account; "
            "add a rule for tender 'mobile wallet' in the mapping (version 3)",
        ),
        (
            lambda p: p.tender_for(Payment("Card", usd("1.00"), "amex")),
            "tender 'Card' (card brand 'amex') has no account",
        ),
    ],
)
def test_every_unmapped_value_is_a_mapping_error_naming_it(
    place: Callable[[MappedPlacement], object], message: str
) -> None:
    """SKU, category, tax and tender alike: the exact value and where to add its rule."""
    with pytest.raises(MappingError) as caught:
        place(placement())
    assert caught.value.kind is ErrorKind.MAPPING
    assert caught.value.code == "unmapped_value"
    assert str(caught.value).startswith(message)


def test_a_payout_needs_its_tenders_clearing_account() -> None:
    """A payout empties the clearing account of the mapping's payout tender, or is held."""
    payout = Payout(
        "po-1", "harbor", "brooklyn", "pos", "PO-1", AT, "USD", usd("100"), usd("3"), usd("97")
    )
    assert MAPPING.placement_for(payout).payout_clearing(payout) == "Assets:Clearing:Card"
    cash_only = mapping_of(TENDERS[2])
    with pytest.raises(MappingError, match="payouts settle tender 'card', which has no clearing"):
        cash_only.placement_for(payout).payout_clearing(payout)
    assert [(p.code, p.path) for p in problems(cash_only, payout)] == [("unmapped_value", "gross")]


def test_problems_lists_every_unmapped_value_of_a_sale_at_once() -> None:
    """One pass finds every unmapped line, tax, tender and location, each with its path."""
    mapping = mapping_of(
        *INCOME, *TAXES, *TENDERS, Rule(Target.LOCATION, 'location == "soho"', klass="SoHo")
    )
    document = sale(
        (
            line("BEAN-007", "Coffee", "10.00", tax("NY sales tax")),
            line("HOOD-002", "Apparel", "10.00", tax("NY sales tax")),
            line("PEN-010", "Stationery", "10.00", tax("City tax", "0.045")),
            line("GIFT", "Gift cards", "25.00", kind=LineKind.GIFT_CARD),
        ),
        (card("30.00", "visa"), Payment("mobile wallet", usd("25.00"))),
    )
    found = problems(mapping, document)
    assert [(p.code, p.path) for p in found] == [
        ("unmapped_value", "location_id"),
        ("unmapped_value", "lines[1].category"),
        ("unmapped_value", "lines[2].category"),
        ("unmapped_value", "lines[2].taxes[0].name"),
        ("unmapped_value", "payments[1].tender"),
    ]
    messages = [p.message for p in found]
    assert "location 'brooklyn' has no class" in messages[0]
    assert "'Apparel'" in messages[1]
    assert "'Stationery'" in messages[2]
    assert "'City tax'" in messages[3]
    assert "'mobile wallet'" in messages[4]


def test_problems_checks_refunds_and_is_empty_when_all_is_mapped() -> None:
    """A refund's lines and tenders are checked too; a fully mapped document has no problems."""
    back = refund(
        (RefundLine("HOOD-002", Decimal(1), usd("10.00"), "Apparel"),),
        (Payment("store_credit", usd("10.00")),),
    )
    assert [p.path for p in problems(MAPPING, back)] == ["lines[0].category", "payments[0].tender"]
    mapped = sale((line("BEAN-007", "Coffee", "10.00"),), (card("10.00", "amex"),))
    assert problems(MAPPING, mapped) == []


def test_location_rules_give_classes_and_refuse_unknown_locations() -> None:
    """No location rules: no classes. With some, each location must match one."""
    assert MAPPING.class_for("brooklyn") is None
    mapping = mapping_of(
        Rule(Target.LOCATION, 'location == "brooklyn"', klass="East"),
        Rule(Target.LOCATION, 'location startswith "web"', klass="Online"),
    )
    assert mapping.class_for("brooklyn") == "East"
    assert mapping.class_for("web-us") == "Online"
    with pytest.raises(MappingError, match="add a location rule for location 'shoreditch'"):
        mapping.class_for("shoreditch")


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: Rule(Target.INCOME, "true", "Sales"), ValueError, "must start with one of"),
        (lambda: Rule(Target.INCOME, "true", "Income:sales"), ValueError, "part 'sales'"),
        (lambda: Rule(Target.INCOME, "true"), ValueError, "name the account"),
        (lambda: Rule(Target.INCOME, "rate > 1", "Income:X"), ConditionError, "unknown field"),
        (
            lambda: Rule(Target.TAX, "true", "Liabilities:{category}"),
            ValueError,
            "{category} is not a field of tax rules",
        ),
        (lambda: Rule(Target.TAX, "true", "{tax_name}:VAT"), ValueError, "must start with"),
        (
            lambda: Rule(Target.TAX, "true", "Liabilities:VAT", item="VAT"),
            ValueError,
            "item belongs on income rules only",
        ),
        (
            lambda: Rule(Target.INCOME, "true", "Income:X", tax_code="S"),
            ValueError,
            "tax_code belongs on tax rules only",
        ),
        (
            lambda: Rule(Target.INCOME, "true", "Income:X", item=""),
            ValueError,
            "item is empty",
        ),
        (
            lambda: Rule(Target.LOCATION, "true", "Income:X", klass="East"),
            ValueError,
            "sets a class (klass), not an account",
        ),
        (lambda: Rule(Target.LOCATION, "true"), ValueError, "name the class"),
        (
            lambda: Rule(Target.TENDER, "true", "Assets:Cash", klass="East"),
            ValueError,
            "klass belongs on location rules only",
        ),
    ],
)
def test_rules_are_checked_when_written(
    make: Callable[[], object], error: type[Exception], message: str
) -> None:
    """A bad account name, misplaced field or unknown placeholder is refused on construction."""
    with pytest.raises(error) as caught:
        make()
    assert message in str(caught.value)


def test_fixed_accounts_name_the_role_with_a_bad_account() -> None:
    """A fixed role with an invalid account says which role it is."""
    fields = dict.fromkeys(FixedAccounts.__dataclass_fields__, "Assets:Bank")
    with pytest.raises(ValueError, match="fixed account for tips: account 'Tips'"):
        FixedAccounts(**{**fields, "tips": "Tips"})


def test_a_rule_after_a_catch_all_is_refused() -> None:
    """A rule that can never match is a mistake to show, not to keep silently."""
    with pytest.raises(ValueError, match=r"rules\[1\] .* can never match: rules\[0\]"):
        mapping_of(Rule(Target.INCOME, "true", "Income:Sales"), INCOME[1])
    mapping_of(Rule(Target.TAX, "true", "Liabilities:Tax"), INCOME[1])


def test_mapping_versions_start_at_one() -> None:
    """Version 0 or a bool is refused: versions name published rule sets, counted from 1."""
    with pytest.raises(ValueError, match="start at 1"):
        mapping_of(version=0)
    with pytest.raises(TypeError):
        mapping_of(version=True)


def test_journal_entries_of_simulated_documents_balance_on_the_mapped_accounts() -> None:
    """Real-looking sales, refunds and payouts post through the mapping and balance."""
    categories = sorted({category for _, _, category, _ in CATALOGUE})
    mapping = mapping_of(
        *(
            Rule(Target.INCOME, f"category == {literal(c)}", f"Income:Retail:{c}")
            for c in categories
        ),
        Rule(Target.TAX, "rate == 0.2", "Liabilities:VAT"),
        Rule(Target.TAX, 'tax_name == "NY sales tax"', "Liabilities:Sales-Tax:NY"),
        *TENDERS,
        Rule(Target.TENDER, 'tender in ["gift_card", "store_credit"]', "Liabilities:Vouchers"),
    )
    merchant = demo_merchant(orders_per_day=25)
    locations = {loc.id: loc for loc in merchant.locations}
    mapped = {f"Income:Retail:{c}" for c in categories} | {rule.account for rule in mapping.rules}
    mapped |= {getattr(FIXED, role) for role in FixedAccounts.__dataclass_fields__}
    amex_sales = 0
    for document in simulate(merchant, date(2024, 3, 1), 4):
        assert problems(mapping, document) == []
        entry = journal_for(
            document, locations[document.location_id], mapping.placement_for(document)
        )
        assert total((leg.amount for leg in entry.lines), entry.currency) == Money.zero(
            entry.currency
        )
        assert {leg.account for leg in entry.lines} <= mapped
        if isinstance(document, Sale) and any(p.card_brand == "amex" for p in document.payments):
            amex_sales += 1
            assert "Assets:Clearing:Amex" in {leg.account for leg in entry.lines}
    assert amex_sales > 0


@given(rule_lists(Target.TENDER), st.data())
def test_resolution_is_the_first_matching_rule_or_a_mapping_error(
    rules: list[tuple[Rule, Oracle]], data: st.DataObject
) -> None:
    """For any rules and any payment, the account is the first rule whose condition holds
    (by an independent oracle), and with none, a MappingError: never anything else."""
    mapping = mapping_of(*(rule for rule, _ in rules))
    words = st.sampled_from(["card", "cash", "amex", "visa", "shopify", "pos", "", "USD"])
    payment = Payment(
        data.draw(words | st.text(max_size=3)),
        Money(Decimal(1), data.draw(st.sampled_from(["USD", "GBP", "JPY"]))),
        data.draw(st.none() | words),
    )
    location, source = data.draw(words), data.draw(words)
    facts = {
        "tender": payment.tender,
        "card_brand": payment.card_brand or "",
        "currency": payment.amount.currency,
        "location": location,
        "source": source,
    }
    expected = next((rule.account for rule, oracle in rules if oracle(facts)), None)
    place = MappedPlacement(mapping, location, source)
    if expected is None:
        with pytest.raises(MappingError):
            place.tender_for(payment)
    else:
        assert place.tender_for(payment) == expected
