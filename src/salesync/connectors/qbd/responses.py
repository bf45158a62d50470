"""qbXML responses read: each reply's status, what it returned, and its iterator.

QuickBooks answers a message set with one ``…Rs`` per request, in order, each carrying
``statusCode``, ``statusSeverity`` and ``statusMessage`` attributes and, on success, the
``…Ret`` aggregates; an iterator query adds ``iteratorRemainingCount`` and
``iteratorID`` (https://developer.intuit.com/app/developer/qbdesktop/docs/develop/
exploring-the-quickbooks-desktop-sdk/status-codes-in-response-messages).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


class MalformedResponseError(ValueError):
    """The text is not a qbXML response."""


@dataclass(frozen=True, slots=True)
class Status:
    code: int
    severity: str
    message: str

    @property
    def ok(self) -> bool:
        """Info and warnings both mean QuickBooks did what was asked."""
        return self.severity.lower() != "error"


@dataclass(frozen=True, slots=True)
class Record:
    """One ``…Ret``: its leaf fields by name (the first of each), and its memos (its own,
    then its lines'), where salesync keeps the full key of what it wrote."""

    kind: str
    fields: dict[str, str]
    memos: tuple[str, ...] = ()

    def get(self, name: str) -> str | None:
        return self.fields.get(name)


@dataclass(frozen=True, slots=True)
class Reply:
    """The response to one request of a message set."""

    name: str
    request_id: str
    status: Status
    records: tuple[Record, ...] = ()
    iterator_id: str | None = None
    remaining: int | None = field(default=None)
    """``iteratorRemainingCount``: how many more the iterator holds (None: no iterator)."""

    @property
    def operation(self) -> str:
        """The request's name without its ``Rs`` (``JournalEntryAdd``)."""
        return self.name.removesuffix("Rs")


def parse_replies(text: str) -> list[Reply]:
    """Every reply in a qbXML response document, in request order."""
    if not text.strip():
        raise MalformedResponseError("the response is empty")
    try:
        root = etree.fromstring(_without_declaration(text).encode("utf-8"), _PARSER)
    except etree.XMLSyntaxError as exc:
        raise MalformedResponseError(f"the response is not XML: {exc}") from None
    msgs = root.find("QBXMLMsgsRs")
    if root.tag != "QBXML" or msgs is None:
        raise MalformedResponseError("the response has no QBXML/QBXMLMsgsRs")
    return [_reply(rs) for rs in msgs if isinstance(rs.tag, str)]


def _reply(rs: etree._Element) -> Reply:
    try:
        code = int(rs.get("statusCode", ""))
    except ValueError:
        raise MalformedResponseError(f"{rs.tag} has no numeric statusCode") from None
    status = Status(code, rs.get("statusSeverity", ""), rs.get("statusMessage", ""))
    remaining = rs.get("iteratorRemainingCount")
    return Reply(
        name=str(rs.tag),
        request_id=rs.get("requestID", ""),
        status=status,
        records=tuple(_record(ret) for ret in rs if str(ret.tag).endswith("Ret")),
        iterator_id=rs.get("iteratorID"),
        remaining=int(remaining) if remaining is not None else None,
    )


def _record(ret: etree._Element) -> Record:
    fields: dict[str, str] = {}
    for child in ret:
        if len(child) == 0 and child.text is not None:
            fields.setdefault(str(child.tag), child.text)
        elif str(child.tag).endswith("Ref"):
            full_name = child.findtext("FullName")
            if full_name is not None:
                fields.setdefault(str(child.tag), full_name)
    memos = tuple(m.text or "" for m in (*ret.iterfind("Memo"), *ret.iterfind("*/Memo")))
    return Record(str(ret.tag).removesuffix("Ret"), fields, memos)


def _without_declaration(text: str) -> str:
    """The body after the XML and qbxml processing instructions, which may declare an
    encoding (QuickBooks writes ``windows-1252`` at times) the decoded text no longer has."""
    body = text.lstrip()
    while body.startswith("<?"):
        end = body.find("?>")
        if end < 0:
            raise MalformedResponseError("an unterminated processing instruction")
        body = body[end + 2 :].lstrip()
    return body
