"""The condition language: what it accepts, how it evaluates, and what it refuses."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salesync.rules import FIELDS, ConditionError, FieldType, Target, parse
from salesync.rules.conditions import MAX_DEPTH, Value, literal

from .strategies import conditions, facts, texts

T, N = FieldType.TEXT, FieldType.NUMBER
FIELDS_ALL = {
    "sku": T,
    "name": T,
    "category": T,
    "kind": T,
    "tender": T,
    "card_brand": T,
    "tax_name": T,
    "rate": N,
    "location": T,
}
FACTS: dict[str, Value] = {
    "sku": "GIFT-25",
    "name": 'The "good" mug',
    "category": "Coffee",
    "kind": "product",
    "tender": "card",
    "card_brand": "amex",
    "tax_name": "VAT 20",
    "rate": Decimal("0.20"),
    "location": "",
}


def holds(text: str, facts: dict[str, Value] = FACTS) -> bool:
    return parse(text, FIELDS_ALL).evaluate(facts)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('sku startswith "GIFT" and category in ["Coffee", "Tea"]', True),
        ('sku startswith "gift"', False),
        ('tender == "card" and card_brand == "amex"', True),
        ('tender == "card" and card_brand == "visa"', False),
        ("rate >= 0.2", True),
        ("rate > 0.2", False),
        ("rate == 0.2", True),
        ("rate != 0.20", False),
        ("rate < 1", True),
        ("rate <= -0.5", False),
        ("rate in [0.05, 0.2]", True),
        ("rate not in [0.05, 0.2]", False),
        ('not (category == "Apparel")', True),
        ('category not in ["Apparel"]', True),
        ('category in ["Apparel"]', False),
        ("category in []", False),
        ('sku endswith "-25"', True),
        ('tax_name contains "20"', True),
        ('name == "The \\"good\\" mug"', True),
        ("name contains 'good'", True),
        ('location == ""', True),
        ("true", True),
        ("false", False),
        ("not false", True),
        ('(((tender == "card")))', True),
    ],
)
def test_conditions_evaluate_as_written(text: str, *, expected: bool) -> None:
    """Each operator, literal and connective gives the answer its text says."""
    assert holds(text) is expected


@pytest.mark.parametrize(
    ("text", "grouped"),
    [
        ("true or false and false", "true or (false and false)"),
        ("false and false or true", "(false and false) or true"),
        ("not true or true", "(not true) or true"),
        ("not false and false", "(not false) and false"),
        ('not tender == "cash" and rate > 0.1', '(not (tender == "cash")) and (rate > 0.1)'),
    ],
)
def test_and_binds_tighter_than_or_and_not_tightest(text: str, grouped: str) -> None:
    """Precedence: not, then and, then or; the fully parenthesised form agrees."""
    assert holds(text) is holds(grouped)
    assert parse(text, FIELDS_ALL).node == parse(grouped, FIELDS_ALL).node


def test_text_compares_exactly() -> None:
    """Case and spacing matter: 'Amex' is not 'amex', so a rule never matches by accident."""
    assert not holds('card_brand == "Amex"')
    assert not holds('category == "Coffee "')


@pytest.mark.parametrize(
    ("text", "column", "expected"),
    [
        ("", 1, "expected a field name, 'not', 'true', 'false' or '(', found the end"),
        ('sku startswith "A" and', 23, "expected a field name"),
        ("sku", 4, "expected an operator (==, !=, <, <=, >, >=, in, not in, startswith"),
        ('sku == "A" "B"', 12, "expected 'and', 'or' or the end of the condition, found '\"B\"'"),
        ('(sku == "A"', 12, "expected ')'"),
        ('sku = "A"', 5, "unexpected '='; write '==' to compare"),
        ('sku == "A" && true', 12, "write 'and'"),
        ('sku == "A', 8, 'string starting here has no closing "'),
        ('sku == "\\n"', 9, "unknown escape"),
        ("sku in", 7, "expected a list"),
        ('sku in ["A" "B"]', 13, "expected ',' or ']'"),
        ('sku not "A"', 9, "expected 'in' after 'not'"),
        ('rate == "0.2"', 9, "expected a number, since 'rate' is number"),
        ("sku == 3", 8, "expected a string, since 'sku' is text"),
        ('rate in [0.2, "x"]', 15, "expected a number"),
        ('rate startswith "0"', 6, "'startswith' works on text, but 'rate' is a number"),
        ("category > 3", 10, "'>' compares numbers, but 'category' is text"),
        ("rate == 1e5", 10, "found 'e5'"),
    ],
)
def test_parse_errors_name_the_column_and_what_was_expected(
    text: str, column: int, expected: str
) -> None:
    """A bad condition is refused with the 1-based column and what should have been there."""
    with pytest.raises(ConditionError) as caught:
        parse(text, FIELDS_ALL)
    assert caught.value.column == column
    assert expected in str(caught.value)
    assert f"column {column}:" in str(caught.value)


def test_unknown_field_is_refused_at_parse_time_with_a_suggestion() -> None:
    """A misspelt field fails when the rule is written, not silently when it is evaluated."""
    with pytest.raises(ConditionError, match=r"unknown field 'catgory' \(did you mean 'category'"):
        parse('catgory == "Coffee"', FIELDS[Target.INCOME])


def test_fields_are_checked_per_target() -> None:
    """A tax rule cannot test a SKU: each target has its own known fields."""
    parse('sku == "A"', FIELDS[Target.INCOME])
    with pytest.raises(ConditionError, match=r"unknown field 'sku'.*known fields: currency"):
        parse('sku == "A"', FIELDS[Target.TAX])


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os')",
        "__import__('os').system('true')",
        "sku.__class__",
        'eval("1")',
        'sku == "a" + "b"',
        "lambda: true",
        "[x for x in sku]",
        "sku == sku",
        "open('/etc/passwd')",
        "rate == 2**64",
        "true; import os",
    ],
)
def test_python_is_never_run(text: str) -> None:
    """Python syntax is just a parse error: the language has no calls, attributes or names."""
    with pytest.raises(ConditionError):
        parse(text, FIELDS_ALL)


def test_nesting_is_bounded() -> None:
    """Deep nesting is a clear error, not a RecursionError or a hang."""
    parse("(" * MAX_DEPTH + "true" + ")" * MAX_DEPTH, FIELDS_ALL)
    with pytest.raises(ConditionError, match="nested more than"):
        parse("(" * 5000 + "true" + ")" * 5000, FIELDS_ALL)
    with pytest.raises(ConditionError, match="nested more than"):
        parse("not " * 5000 + "true", FIELDS_ALL)


def test_only_the_literal_true_is_a_catch_all() -> None:
    """`true` matches everything; a condition that happens to be always true is not flagged."""
    assert parse("true", FIELDS_ALL).is_catch_all
    assert not parse("not false", FIELDS_ALL).is_catch_all


def test_a_condition_reports_the_fields_it_reads() -> None:
    """The fields used are known after parsing (so a mapping can explain a rule)."""
    condition = parse('tender == "card" and (card_brand == "amex" or rate > 0)', FIELDS_ALL)
    assert condition.fields == {"tender", "card_brand", "rate"}


@given(st.sampled_from(list(Target)), st.data())
def test_evaluation_matches_an_independent_oracle(target: Target, data: st.DataObject) -> None:
    """Any condition over a target's fields evaluates, without raising, to the oracle's answer."""
    fields = FIELDS[target]
    text, oracle = data.draw(conditions(fields), label="condition")
    sample = data.draw(facts(fields), label="facts")
    assert parse(text, fields).evaluate(sample) is oracle(sample)


@given(texts, st.decimals(min_value=-(10**12), max_value=10**12, allow_nan=False))
def test_literal_writes_any_value_the_parser_reads_back(text: str, number: Decimal) -> None:
    """A generated rule (presets, suggestions) matches exactly the value it was written for."""
    assert parse(f"sku == {literal(text)}", FIELDS_ALL).evaluate({**FACTS, "sku": text})
    assert parse(f"rate == {literal(number)}", FIELDS_ALL).evaluate({**FACTS, "rate": number})
