"""What a notice says, rendered from the templates in ``monitor/templates``.

A notice row keeps one body: the text part, the message of record. The HTML part is a
rendering of that text (its headings, paragraphs and links) through ``letter.html``, so
the two parts never disagree and what was sent can be rebuilt from the row alone.

The text has a fixed frame: a greeting line, the content, and a footer after the
``-- `` signature line. A digest lifts the content of each folded notice out of its
frame (``unframe``) and lists them in one letter.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from salesync.domain.redaction import Redactor

_ENV = Environment(
    loader=PackageLoader("salesync.monitor", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=False,
)

SIGNATURE = "-- "
"""The line that starts a letter's footer (the usual signature separator)."""

SUBJECT_LIMIT = 300

PROVIDERS = {
    "qbo": "QuickBooks Online",
    "qbd": "QuickBooks Desktop",
    "xero": "Xero",
    "ledger": "the built-in ledger",
    "shopify": "Shopify",
    "square": "Square",
    "lightspeed": "Lightspeed",
    "woocommerce": "WooCommerce",
    "pos_file": "your POS export",
}


@dataclass(frozen=True, slots=True)
class Story:
    """Everything a notice about one ticket says, already in the merchant's terms."""

    reason: str
    tenant: str
    sync: str
    """Which sync it is about, as a phrase: "your QuickBooks Online sync for Soho"."""
    problem: str
    affected: str
    """The sales and refunds it affected, as a phrase ("3 sales and 1 refund"), or ""."""
    occurrences: int
    first_seen: str
    last_seen: str
    kind: str
    merchant_action: bool
    resolution: str | None
    help_url: str | None
    reconnect_url: str | None
    connections_url: str
    provider: str | None


@dataclass(frozen=True, slots=True)
class Letter:
    """One email's subject and its text and HTML parts."""

    subject: str
    text: str
    html: str

    @classmethod
    def of(cls, subject: str, text: str) -> Letter:
        return cls(subject=subject, text=text, html=render_html(subject, text))


@dataclass(frozen=True, slots=True)
class Item:
    """One folded notice in a digest."""

    subject: str
    content: str


@dataclass(frozen=True, slots=True)
class Block:
    """A piece of a letter's text: a title, a heading, a paragraph or the footer."""

    kind: str
    lines: tuple[str, ...]


def provider_name(provider: str | None) -> str | None:
    if provider is None:
        return None
    return PROVIDERS.get(provider, provider.replace("_", " ").title())


def plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def affected_phrase(sales: int, refunds: int, others: int) -> str:
    parts = [
        plural(n, one, many)
        for n, one, many in (
            (sales, "sale", "sales"),
            (refunds, "refund", "refunds"),
            (others, "other record", "other records"),
        )
        if n
    ]
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def local_time(instant: datetime, zone: tzinfo) -> str:
    """``instant`` as a merchant reads it: "Mon 23 Nov 2026 at 9:00 AM EST"."""
    at = instant.astimezone(zone)
    hour = at.hour % 12 or 12
    return f"{at:%a} {at.day} {at:%b %Y} at {hour}:{at:%M} {at:%p} {at:%Z}"


def one_line(text: str) -> str:
    """``text`` as a header value: one line, within the subject column's length."""
    line = " ".join(text.split())
    return line if len(line) <= SUBJECT_LIMIT else line[: SUBJECT_LIMIT - 1] + "…"


def subject(story: Story, redactor: Redactor) -> str:
    return one_line(redactor.text(_ENV.get_template("subject.txt").render(t=story)))


def content(story: Story) -> str:
    """The notice's sections: what happened, what we did, whether anything is needed."""
    return _ENV.get_template("notice.txt").render(t=story).strip("\n")


def letter(
    *, name: str, tenant: str, content: str, unsubscribe_url: str, redactor: Redactor
) -> str:
    text = _ENV.get_template("letter.txt").render(
        name=name, tenant=tenant, content=content, unsubscribe_url=unsubscribe_url
    )
    return redactor.text(text)


def digest(
    *,
    name: str,
    tenant: str,
    items: Sequence[Item],
    unsubscribe_url: str,
    redactor: Redactor,
) -> Letter:
    """One letter listing every item; its subject counts them."""
    title = _ENV.get_template("digest_subject.txt").render(tenant=tenant, count=len(items))
    text = _ENV.get_template("digest.txt").render(
        name=name, tenant=tenant, items=items, unsubscribe_url=unsubscribe_url
    )
    return Letter.of(one_line(redactor.text(title)), redactor.text(text))


def unframe(text: str) -> str:
    """The content of a framed letter: without its greeting line and its footer."""
    _, _, rest = text.partition("\n\n")
    body, _, _ = rest.rpartition(f"\n{SIGNATURE}\n")
    return (body or rest).strip("\n")


def blocks(text: str) -> list[Block]:
    """The letter's text as blocks; a line underlined with ``=`` is a title, with ``-``
    a heading, and everything after the signature line the footer."""
    main, _, footer = text.partition(f"\n{SIGNATURE}\n")
    found: list[Block] = []
    for chunk in re.split(r"\n\s*\n", main.strip("\n")):
        lines = chunk.split("\n")
        underline = lines[1].strip() if len(lines) > 1 else ""
        if underline and underline[0] in "=-" and len(set(underline)) == 1:
            found.append(Block("title" if underline[0] == "=" else "heading", (lines[0],)))
            lines = lines[2:]
        if lines:
            found.append(Block("paragraph", tuple(lines)))
    if footer.strip():
        found.append(Block("footer", tuple(footer.strip("\n").split("\n"))))
    return found


_URL = re.compile(r"https?://[^\s<>\"']+")


def linkify(line: str) -> Markup:
    """``line`` escaped for HTML, with its web addresses made links."""
    out: list[str] = []
    last = 0
    for match in _URL.finditer(line):
        url = match.group(0).rstrip(".,;:)")
        end = match.start() + len(url)
        out.append(str(escape(line[last : match.start()])))
        out.append(f'<a href="{escape(url)}">{escape(url)}</a>')
        last = end
    out.append(str(escape(line[last:])))
    return Markup("".join(out))  # noqa: S704 - every piece above is escaped


def first_upper(text: str) -> str:
    return text[:1].upper() + text[1:]


_ENV.filters["linkify"] = linkify
_ENV.filters["first_upper"] = first_upper


def render_html(subject: str, text: str) -> str:
    return _ENV.get_template("letter.html").render(subject=subject, blocks=blocks(text))
