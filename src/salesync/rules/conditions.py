"""A tiny condition language for mapping rules, parsed by hand and never evaluated as Python.

    sku startswith "GIFT" and category in ["Coffee", "Tea"]
    tender == "card" and card_brand == "amex"
    rate >= 0.2
    not (category == "Apparel")

Grammar (``and`` binds tighter than ``or``; ``not`` tighter than both)::

    condition  := or_expr END
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | atom
    atom       := "(" or_expr ")" | "true" | "false" | FIELD operator operand
    operator   := "==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not" "in"
                | "startswith" | "endswith" | "contains"
    operand    := STRING | NUMBER | "[" [literal ("," literal)*] "]"
    literal    := STRING | NUMBER
    STRING     := '"' ... '"' | "'" ... "'"      (escapes: \\\\ \\" \\')
    NUMBER     := ["-"] DIGITS ["." DIGITS]      (compared as Decimal)

Every field is declared with a type when parsing, so a misspelt field, ``rate startswith
"x"`` or ``category > 3`` is refused before a rule is ever saved, and evaluating a parsed
condition against facts of the declared types cannot fail. Text compares exactly (case
matters); a text fact with no value is the empty string.
"""

from __future__ import annotations

import difflib
import enum
import operator
import re
from collections import abc
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

MAX_DEPTH = 32
"""Nesting allowed for parentheses and ``not``: deep enough for people, bounded for safety."""


class FieldType(enum.Enum):
    TEXT = "text"
    NUMBER = "number"


Value = str | Decimal
Facts = abc.Mapping[str, Value]
"""The values a condition is judged against: every declared field, text or Decimal."""


class ConditionError(ValueError):
    """A condition that cannot be parsed; the message names the column and what was expected."""

    def __init__(self, text: str, column: int, problem: str) -> None:
        super().__init__(f"condition {text!r}: column {column}: {problem}")
        self.text = text
        self.column = column
        self.problem = problem


_KEYWORDS = frozenset(
    {"and", "or", "not", "in", "true", "false", "startswith", "endswith", "contains"}
)
_WORD_OPERATORS = ("in", "startswith", "endswith", "contains")
_SYMBOL_OPERATORS = ("==", "!=", "<=", ">=", "<", ">")
_OPERATOR_LIST = "==, !=, <, <=, >, >=, in, not in, startswith, endswith, contains"
_ORDERING = frozenset({"<", "<=", ">", ">="})
_TEXT_ONLY = frozenset({"startswith", "endswith", "contains"})

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>-?[0-9]+(?:\.[0-9]+)?)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<symbol>==|!=|<=|>=|<|>|\(|\)|\[|\]|,)
  | (?P<quote>["'])
    """,
    re.VERBOSE,
)
_HINTS = {
    "=": "write '==' to compare",
    "!": "write '!=' or 'not'",
    "&": "write 'and'",
    "|": "write 'or'",
}


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    """``number``, ``word``, ``symbol``, ``string`` or ``end``."""
    text: str
    column: int
    value: Value = ""

    def describe(self) -> str:
        return "the end of the condition" if self.kind == "end" else repr(self.text)


def _string(text: str, start: int) -> tuple[str, int]:
    """Read the string literal opening at ``start``; return its value and the index after it."""
    quote = text[start]
    chars: list[str] = []
    i = start + 1
    while i < len(text):
        char = text[i]
        if char == quote:
            return "".join(chars), i + 1
        if char == "\\":
            escaped = text[i + 1 : i + 2]
            if escaped not in ("\\", '"', "'"):
                raise ConditionError(
                    text, i + 1, "unknown escape; only \\\\, \\\" and \\' are allowed in strings"
                )
            chars.append(escaped)
            i += 2
            continue
        chars.append(char)
        i += 1
    raise ConditionError(text, start + 1, f"string starting here has no closing {quote}")


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        match = _TOKEN.match(text, i)
        if match is None:
            char = text[i]
            hint = _HINTS.get(char)
            raise ConditionError(
                text, i + 1, f"unexpected {char!r}" + (f"; {hint}" if hint else "")
            )
        kind = match.lastgroup or ""
        if kind == "quote":
            value, end = _string(text, i)
            tokens.append(_Token("string", text[i:end], i + 1, value))
            i = end
            continue
        if kind == "number":
            tokens.append(_Token("number", match.group(), i + 1, Decimal(match.group())))
        elif kind != "space":
            tokens.append(_Token(kind, match.group(), i + 1))
        i = match.end()
    tokens.append(_Token("end", "", len(text) + 1))
    return tokens


@dataclass(frozen=True, slots=True)
class _Constant:
    value: bool

    def holds(self, facts: Facts) -> bool:
        return self.value


Operand = Value | tuple[Value, ...]


def _starts(fact: Value, operand: Operand) -> bool:
    return isinstance(fact, str) and isinstance(operand, str) and fact.startswith(operand)


def _ends(fact: Value, operand: Operand) -> bool:
    return isinstance(fact, str) and isinstance(operand, str) and fact.endswith(operand)


def _contains(fact: Value, operand: Operand) -> bool:
    return isinstance(fact, str) and isinstance(operand, str) and operand in fact


def _among(fact: Value, operand: Operand) -> bool:
    return isinstance(operand, tuple) and fact in operand


def _not_among(fact: Value, operand: Operand) -> bool:
    return not _among(fact, operand)


def _numbers(compare: Callable[[Decimal, Decimal], bool]) -> Callable[[Value, Operand], bool]:
    def check(fact: Value, operand: Operand) -> bool:
        return isinstance(fact, Decimal) and isinstance(operand, Decimal) and compare(fact, operand)

    return check


# Parsing has matched each operator to its field's type; the isinstance checks only keep
# evaluation total should a caller pass facts of the wrong type.
_COMPARE: dict[str, Callable[[Value, Operand], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": _numbers(operator.lt),
    "<=": _numbers(operator.le),
    ">": _numbers(operator.gt),
    ">=": _numbers(operator.ge),
    "in": _among,
    "not in": _not_among,
    "startswith": _starts,
    "endswith": _ends,
    "contains": _contains,
}


@dataclass(frozen=True, slots=True)
class _Compare:
    field: str
    op: str
    operand: Operand

    def holds(self, facts: Facts) -> bool:
        return _COMPARE[self.op](facts[self.field], self.operand)


@dataclass(frozen=True, slots=True)
class _Not:
    inner: _Node

    def holds(self, facts: Facts) -> bool:
        return not self.inner.holds(facts)


@dataclass(frozen=True, slots=True)
class _All:
    parts: tuple[_Node, ...]

    def holds(self, facts: Facts) -> bool:
        return all(part.holds(facts) for part in self.parts)


@dataclass(frozen=True, slots=True)
class _Any:
    parts: tuple[_Node, ...]

    def holds(self, facts: Facts) -> bool:
        return any(part.holds(facts) for part in self.parts)


_Node = _Constant | _Compare | _Not | _All | _Any


@dataclass(frozen=True, slots=True)
class Condition:
    """A parsed condition: ``evaluate`` judges a set of facts without running any code."""

    text: str
    node: _Node
    fields: frozenset[str]
    """The fields the condition reads."""

    def evaluate(self, facts: Facts) -> bool:
        return self.node.holds(facts)

    @property
    def is_catch_all(self) -> bool:
        """True for the literal condition ``true``, which matches everything."""
        return self.node == _Constant(True)


class _Parser:
    def __init__(self, text: str, fields: abc.Mapping[str, FieldType]) -> None:
        self.text = text
        self.fields = fields
        self.tokens = _tokens(text)
        self.at = 0
        self.depth = 0
        self.used: set[str] = set()

    @property
    def token(self) -> _Token:
        return self.tokens[self.at]

    def fail(self, token: _Token, problem: str) -> ConditionError:
        return ConditionError(self.text, token.column, problem)

    def expected(self, what: str) -> ConditionError:
        return self.fail(self.token, f"expected {what}, found {self.token.describe()}")

    def take_word(self, word: str) -> bool:
        if self.token.kind == "word" and self.token.text == word:
            self.at += 1
            return True
        return False

    def take_symbol(self, symbol: str) -> bool:
        if self.token.kind == "symbol" and self.token.text == symbol:
            self.at += 1
            return True
        return False

    def condition(self) -> _Node:
        node = self.or_expr()
        if self.token.kind != "end":
            raise self.expected("'and', 'or' or the end of the condition")
        return node

    def or_expr(self) -> _Node:
        parts = [self.and_expr()]
        while self.take_word("or"):
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else _Any(tuple(parts))

    def and_expr(self) -> _Node:
        parts = [self.not_expr()]
        while self.take_word("and"):
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else _All(tuple(parts))

    def nested(self, parse: Callable[[], _Node]) -> _Node:
        if self.depth >= MAX_DEPTH:
            raise self.fail(self.token, f"nested more than {MAX_DEPTH} levels deep")
        self.depth += 1
        node = parse()
        self.depth -= 1
        return node

    def not_expr(self) -> _Node:
        if self.take_word("not"):
            return _Not(self.nested(self.not_expr))
        return self.atom()

    def atom(self) -> _Node:
        token = self.token
        if self.take_symbol("("):
            node = self.nested(self.or_expr)
            if not self.take_symbol(")"):
                raise self.expected("')' or 'and', 'or'")
            return node
        if self.take_word("true"):
            return _Constant(True)
        if self.take_word("false"):
            return _Constant(False)
        if token.kind == "word" and token.text not in _KEYWORDS:
            self.at += 1
            return self.comparison(token)
        raise self.expected("a field name, 'not', 'true', 'false' or '('")

    def field_type(self, token: _Token) -> FieldType:
        kind = self.fields.get(token.text)
        if kind is not None:
            self.used.add(token.text)
            return kind
        known = ", ".join(sorted(self.fields))
        close = difflib.get_close_matches(token.text, list(self.fields), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise self.fail(token, f"unknown field {token.text!r}{hint}; known fields: {known}")

    def operator(self) -> str:
        token = self.token
        if token.kind == "symbol" and token.text in _SYMBOL_OPERATORS:
            self.at += 1
            return token.text
        if token.kind == "word" and token.text in _WORD_OPERATORS:
            self.at += 1
            return token.text
        if self.take_word("not"):
            if self.take_word("in"):
                return "not in"
            raise self.expected("'in' after 'not'")
        raise self.expected(f"an operator ({_OPERATOR_LIST})")

    def literal(self, kind: FieldType, field: str) -> Value:
        token = self.token
        wanted = "string" if kind is FieldType.TEXT else "number"
        if token.kind != wanted:
            raise self.expected(f"a {wanted}, since {field!r} is {kind.value}")
        self.at += 1
        return token.value

    def comparison(self, field_token: _Token) -> _Compare:
        field = field_token.text
        kind = self.field_type(field_token)
        op_token = self.token
        op = self.operator()
        if op in _ORDERING and kind is not FieldType.NUMBER:
            raise self.fail(op_token, f"{op!r} compares numbers, but {field!r} is text")
        if op in _TEXT_ONLY and kind is not FieldType.TEXT:
            raise self.fail(op_token, f"{op!r} works on text, but {field!r} is a number")
        if op not in ("in", "not in"):
            return _Compare(field, op, self.literal(kind, field))
        if not self.take_symbol("["):
            raise self.expected(f'a list such as ["a", "b"] after {op!r}')
        items: list[Value] = []
        if not self.take_symbol("]"):
            items.append(self.literal(kind, field))
            while self.take_symbol(","):
                items.append(self.literal(kind, field))
            if not self.take_symbol("]"):
                raise self.expected("',' or ']'")
        return _Compare(field, op, tuple(items))


def literal(value: Value) -> str:
    """``value`` written as a literal of the language, to suggest or generate a rule."""
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{value:f}"


def parse(text: str, fields: abc.Mapping[str, FieldType]) -> Condition:
    """Parse ``text`` against the declared ``fields``, or raise ``ConditionError``."""
    parser = _Parser(text, fields)
    node = parser.condition()
    return Condition(text, node, frozenset(parser.used))
