"""Reading collections: by id or number, ``where`` filters, ``order`` and ``page``.

``where`` takes the expressions connectors send
(https://developer.xero.com/documentation/api/accounting/requests-and-responses):
``Name=="Acme"``, ``Contact.ContactID==guid("...")``, ``Date>=DateTime(2026,03,01)``,
``Reference.StartsWith("POS")``, joined with AND / OR and parentheses. Strings compare
without regard to case. ``page`` returns 100 objects a page (``pageSize`` up to 1000) with
a ``pagination`` block.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from salesync.sandbox.xero import errors
from salesync.sandbox.xero.batch import envelope
from salesync.sandbox.xero.errors import Reply
from salesync.sandbox.xero.organisation import XeroOrganisation
from salesync.sandbox.xero.resources import Resource
from salesync.sandbox.xero.values import decimal_of, parse_day

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
LIST_FILTERS = {
    "IDs": None,
    "InvoiceNumbers": "InvoiceNumber",
    "ContactIDs": "Contact.ContactID",
    "Statuses": "Status",
}
"""Comma-separated query parameters and the field each one matches (None: the id)."""

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<op>==|!=|>=|<=|>|<|&&|\|\||\(|\)|,|\.)
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)
Predicate = Callable[[Mapping[str, Any]], bool]


def read_one(org: XeroOrganisation, resource: Resource, key: str) -> Reply:
    """``GET /{collection}/{key}``: the object with that id, or that number or code."""
    found = org.get(resource.collection, key)
    if found is None:
        found = next(
            (
                o
                for o in org.all(resource.collection)
                if any(o.get(f) == key for f in resource.keys)
            ),
            None,
        )
    if found is None:
        raise errors.not_found()
    return Reply(200, envelope(org, resource.collection, [found]))


def _keys(obj: Mapping[str, Any], resource: Resource) -> set[Any]:
    return {obj.get(field) for field in resource.keys}


def read_many(org: XeroOrganisation, resource: Resource, params: Mapping[str, str]) -> Reply:
    """``GET /{collection}`` with the filters, order and paging in ``params``."""
    found = org.all(resource.collection)
    if resource.collection == "Contacts" and params.get("includeArchived", "").lower() != "true":
        found = [c for c in found if c.get("ContactStatus") != "ARCHIVED"]
    for name, field in LIST_FILTERS.items():
        if params.get(name):
            wanted = {v.strip().casefold() for v in params[name].split(",")}
            path = field or resource.id_field
            found = [o for o in found if str(_lookup(o, path) or "").casefold() in wanted]
    if params.get("where"):
        predicate = parse_where(params["where"])
        found = [o for o in found if predicate(o)]
    if params.get("order"):
        found = _ordered(found, params["order"])
    body = envelope(org, resource.collection, found)
    if params.get("page"):
        page, size = _int(params, "page", 1), _int(params, "pageSize", DEFAULT_PAGE_SIZE)
        size = min(size, MAX_PAGE_SIZE)
        body[resource.collection] = found[(page - 1) * size : page * size]
        body["pagination"] = {
            "page": page,
            "pageSize": size,
            "pageCount": -(-len(found) // size),
            "itemCount": len(found),
        }
    return Reply(200, body)


def _int(params: Mapping[str, str], name: str, default: int) -> int:
    raw = params.get(name, str(default))
    if not raw.isdigit() or int(raw) < 1:
        raise errors.query_parse(f"{name} must be a positive whole number, not '{raw}'")
    return int(raw)


def _lookup(obj: Mapping[str, Any], path: str) -> Any:
    value: Any = obj
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = next((v for k, v in value.items() if k.casefold() == part.casefold()), None)
    return value


def _ordered(found: list[dict[str, Any]], order: str) -> list[dict[str, Any]]:
    for clause in reversed([c.strip() for c in order.split(",") if c.strip()]):
        field, _, direction = clause.partition(" ")
        if direction.strip().upper() not in {"", "ASC", "DESC"}:
            raise errors.query_parse(f"Cannot order by '{clause}'")
        found = sorted(
            found,
            key=_sort_by(field),
            reverse=direction.strip().upper() == "DESC",
        )
    return found


def _sort_by(field: str) -> Callable[[dict[str, Any]], tuple[int, Any]]:
    return lambda obj: _sort_key(_lookup(obj, field))


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if isinstance(value, bool | int | float):
        return (1, Decimal(str(value)))
    day = parse_day(value)
    if day is not None and str(value).startswith("/Date("):
        return (2, day)
    return (3, str(value).casefold())


def parse_where(text: str) -> Predicate:
    """Compile a ``where`` expression; QueryParseException when it is not one."""
    return _Parser(text).parse()


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        position = 0
        text = text.strip()
        while position < len(text):
            found = _TOKEN.match(text, position)
            if found is None or found.end() == position:
                raise errors.query_parse(f"Unexpected character at position {position}")
            kind = found.lastgroup or ""
            self.tokens.append((kind, found.group(kind)))
            position = found.end()
        self.at = 0

    def parse(self) -> Predicate:
        predicate = self._or()
        if self.at != len(self.tokens):
            raise errors.query_parse(f"Unexpected '{self.tokens[self.at][1]}'")
        return predicate

    def _peek(self) -> str:
        return self.tokens[self.at][1] if self.at < len(self.tokens) else ""

    def _take(self, expected: str | None = None) -> tuple[str, str]:
        if self.at >= len(self.tokens):
            raise errors.query_parse("The expression ends too early")
        token = self.tokens[self.at]
        if expected is not None and token[1].upper() != expected:
            raise errors.query_parse(f"Expected '{expected}' but found '{token[1]}'")
        self.at += 1
        return token

    def _or(self) -> Predicate:
        parts = [self._and()]
        while self._peek().upper() in {"OR", "||"}:
            self._take()
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else lambda o: any(p(o) for p in parts)

    def _and(self) -> Predicate:
        parts = [self._unary()]
        while self._peek().upper() in {"AND", "&&"}:
            self._take()
            parts.append(self._unary())
        return parts[0] if len(parts) == 1 else lambda o: all(p(o) for p in parts)

    def _unary(self) -> Predicate:
        if self._peek().upper() == "NOT":
            self._take()
            inner = self._unary()
            return lambda o: not inner(o)
        if self._peek() == "(":
            self._take("(")
            inner = self._or()
            self._take(")")
            return inner
        return self._comparison()

    def _comparison(self) -> Predicate:
        kind, word = self._take()
        if kind != "word":
            raise errors.query_parse(f"Expected a field name but found '{word}'")
        path = [word]
        while self._peek() == ".":
            self._take(".")
            kind, word = self._take()
            if self._peek() == "(" and word in _METHODS:
                return self._method(".".join(path), word)
            path.append(word)
        field = ".".join(path)
        op = self._take()[1]
        if op not in _COMPARE:
            raise errors.query_parse(f"Expected a comparison after {field} but found '{op}'")
        literal = self._literal()
        compare = _COMPARE[op]
        return lambda o: compare(_comparable(_lookup(o, field), literal), literal)

    def _method(self, field: str, name: str) -> Predicate:
        self._take("(")
        literal = self._literal()
        self._take(")")
        test = _METHODS[name]
        needle = str(literal).casefold()
        return lambda o: test(str(_lookup(o, field) or "").casefold(), needle)

    def _literal(self) -> Any:
        kind, value = self._take()
        if kind == "string":
            return value[1:-1].replace('\\"', '"').casefold()
        if kind == "number":
            return Decimal(value)
        upper = value.upper()
        if upper in {"TRUE", "FALSE"}:
            return upper == "TRUE"
        if upper == "NULL":
            return None
        if upper == "GUID":
            self._take("(")
            inner = self._take()[1].strip('"').casefold()
            self._take(")")
            return inner
        if upper == "DATETIME":
            self._take("(")
            parts = [int(self._take()[1])]
            while self._peek() == ",":
                self._take(",")
                parts.append(int(self._take()[1]))
            self._take(")")
            try:
                return date(*parts[:3])
            except (TypeError, ValueError):
                raise errors.query_parse("DateTime needs a valid year, month and day") from None
        raise errors.query_parse(f"Unexpected '{value}'")


def _comparable(value: Any, literal: Any) -> Any:
    """``value`` read as the literal's type, so 10 == 10.00 and dates compare by day."""
    if isinstance(literal, bool) or literal is None:
        return value
    if isinstance(literal, Decimal):
        return decimal_of(value)
    if isinstance(literal, date):
        return parse_day(value)
    return None if value is None else str(value).casefold()


def _ordering(test: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(left: Any, right: Any) -> bool:
        try:
            return left is not None and right is not None and test(left, right)
        except TypeError:
            return False

    return compare


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda left, right: left == right,
    "!=": lambda left, right: left != right,
    ">=": _ordering(lambda left, right: left >= right),
    "<=": _ordering(lambda left, right: left <= right),
    ">": _ordering(lambda left, right: left > right),
    "<": _ordering(lambda left, right: left < right),
}
_METHODS: dict[str, Callable[[str, str], bool]] = {
    "Contains": lambda haystack, needle: needle in haystack,
    "StartsWith": lambda haystack, needle: haystack.startswith(needle),
    "EndsWith": lambda haystack, needle: haystack.endswith(needle),
}
