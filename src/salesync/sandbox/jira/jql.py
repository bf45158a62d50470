"""The part of JQL the sandbox understands: clauses joined by AND, and ORDER BY.

A clause is ``field = value``, ``field != value``, ``field in (a, b)`` or ``field not in
(a, b)`` over ``project``, ``key``, ``labels``, ``status``, ``statusCategory`` and
``issuetype``; values are bare words or quoted. Anything else is refused as Jira refuses
it: a field it does not know, a value that names no project, a query it cannot parse
(https://support.atlassian.com/jira-software-cloud/docs/use-advanced-search-with-jira-query-language-jql/).
The enhanced search refuses an unbounded query (no clause at all).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FIELDS = frozenset({"project", "key", "labels", "status", "statuscategory", "issuetype"})
ORDER_FIELDS = frozenset({"created", "updated", "key"})
_TOKEN = re.compile(
    r'\s*(?:(\()|(\))|(,)|(!=|=)|"((?:[^"\\]|\\.)*)"|\'([^\']*)\'|([^\s(),=!"\']+))'
)


class JqlError(ValueError):
    """A query Jira would refuse; the message is Jira's."""


@dataclass(frozen=True, slots=True)
class Clause:
    field: str
    """Lower case."""
    negated: bool
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Query:
    clauses: tuple[Clause, ...]
    order_by: str = "key"
    descending: bool = False


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    """'(' ')' ',' 'op' 'value' 'word'."""
    text: str


def _tokens(jql: str) -> list[_Token]:
    found: list[_Token] = []
    position = 0
    while position < len(jql):
        if not jql[position:].strip():
            break
        match = _TOKEN.match(jql, position)
        if match is None:
            raise JqlError(f"Error in the JQL Query: The character at {position} is unexpected.")
        opened, closed, comma, op, double, single, word = match.groups()
        if opened:
            found.append(_Token("(", opened))
        elif closed:
            found.append(_Token(")", closed))
        elif comma:
            found.append(_Token(",", comma))
        elif op:
            found.append(_Token("op", op))
        elif double is not None or single is not None:
            found.append(_Token("value", (double if double is not None else single) or ""))
        else:
            found.append(_Token("word", word))
        position = match.end()
    return found


class _Parser:
    def __init__(self, jql: str) -> None:
        self.tokens = _tokens(jql)
        self.at = 0

    def peek(self, word: str | None = None) -> _Token | None:
        token = self.tokens[self.at] if self.at < len(self.tokens) else None
        if word is not None and (token is None or token.text.lower() != word):
            return None
        return token

    def take(self, kind: str | None = None) -> _Token:
        token = self.peek()
        if token is None or (kind is not None and token.kind != kind):
            shown = token.text if token else "the end of the query"
            raise JqlError(f"Error in the JQL Query: Expecting {kind or 'more'} but got '{shown}'.")
        self.at += 1
        return token

    def value(self) -> str:
        token = self.take()
        if token.kind not in ("value", "word"):
            raise JqlError(f"Error in the JQL Query: Expecting a value but got '{token.text}'.")
        return token.text

    def query(self) -> Query:
        clauses: list[Clause] = []
        while self.peek() is not None and self.peek("order") is None:
            if clauses:
                if self.peek("and") is None:
                    token = self.take()
                    raise JqlError(
                        f"Error in the JQL Query: Expecting 'AND' or 'ORDER BY' but got "
                        f"'{token.text}'."
                    )
                self.take()
            clauses.append(self.clause())
        order, descending = "key", False
        if self.peek("order") is not None:
            self.take()
            if self.peek("by") is None:
                raise JqlError("Error in the JQL Query: Expecting 'BY' after 'ORDER'.")
            self.take()
            order = self.take("word").text.lower()
            if order not in ORDER_FIELDS:
                raise JqlError(f"Not able to sort using field '{order}'.")
            direction = self.peek()
            if direction is not None and direction.text.lower() in ("asc", "desc"):
                descending = self.take().text.lower() == "desc"
        if self.peek() is not None:
            raise JqlError(f"Error in the JQL Query: Unexpected '{self.take().text}'.")
        return Query(tuple(clauses), order, descending)

    def clause(self) -> Clause:
        name = self.take("word").text
        if name.lower() not in FIELDS:
            raise JqlError(
                f"Field '{name}' does not exist or you do not have permission to view it."
            )
        negated = False
        if self.peek("not") is not None:
            self.take()
            negated = True
            if self.peek("in") is None:
                raise JqlError("Error in the JQL Query: Expecting 'IN' after 'NOT'.")
        if self.peek("in") is not None:
            self.take()
            self.take("(")
            values = [self.value()]
            while (token := self.peek()) is not None and token.kind == ",":
                self.take()
                values.append(self.value())
            self.take(")")
            return Clause(name.lower(), negated, tuple(values))
        op = self.take("op").text
        return Clause(name.lower(), op == "!=", (self.value(),))


def parse(jql: str) -> Query:
    """The query, or ``JqlError`` with Jira's message."""
    query = _Parser(jql).query()
    if not query.clauses:
        raise JqlError(
            "Unbounded JQL queries are not allowed here. Please add a search restriction to "
            "your query."
        )
    return query
