"""A ticket as a Jira issue: a one-line summary within Jira's 255 characters and a
description in Atlassian Document Format, the only rich text REST v3 takes
(https://developer.atlassian.com/cloud/jira/platform/apis/document/structure/)."""

from __future__ import annotations

from typing import Any

from salesync.monitor.trackers.content import facts, latest_line
from salesync.monitor.trackers.tracker import IssueContent

SUMMARY_MAX = 255

Node = dict[str, Any]


def _text(value: str, *marks: Node) -> Node:
    node: Node = {"type": "text", "text": value}
    if marks:
        node["marks"] = list(marks)
    return node


def _paragraph(*inline: Node) -> Node:
    return {"type": "paragraph", "content": [n for n in inline if n.get("text") != ""]}


def doc(*blocks: Node) -> Node:
    return {"type": "doc", "version": 1, "content": list(blocks)}


def paragraphs(text: str) -> Node:
    """Plain text as a document, one paragraph per non-empty line."""
    return doc(*(_paragraph(_text(line)) for line in text.splitlines() if line.strip()))


def summary(content: IssueContent) -> str:
    text = " ".join(content.title.split())
    return text if len(text) <= SUMMARY_MAX - 1 else text[: SUMMARY_MAX - 2] + "…"


def description(content: IssueContent) -> Node:
    blocks: list[Node] = list(paragraphs(content.user_message)["content"])
    items = [
        {
            "type": "listItem",
            "content": [_paragraph(_text(f"{label}: ", {"type": "strong"}), _text(value))],
        }
        for label, value in [("salesync ticket", str(content.ticket_id)), *facts(content)]
    ]
    blocks.append({"type": "bulletList", "content": items})
    if content.latest is not None:
        blocks.append(
            _paragraph(
                _text("Latest failure", {"type": "strong"}),
                _text(f" · {latest_line(content.latest)}"),
            )
        )
        message = content.latest.message.strip() or "(no message)"
        blocks.append({"type": "codeBlock", "content": [_text(message)]})
    return doc(*blocks)


def text_of(node: Any) -> str:
    """A document's words, one line per block: what two documents are compared by."""
    if not isinstance(node, dict):
        return ""
    if node.get("type") == "text":
        return str(node.get("text", ""))
    if node.get("type") == "hardBreak":
        return "\n"
    parts = [text_of(child) for child in node.get("content", []) or []]
    if node.get("type") in ("doc", "bulletList", "orderedList", "table", "tableRow"):
        return "\n".join(p for p in parts if p)
    return "".join(parts)
