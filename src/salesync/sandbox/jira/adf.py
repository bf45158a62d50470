"""Atlassian Document Format as Jira's v3 API checks it, and its plain text.

REST v3 takes rich text (an issue's description, a comment's body) only as ADF: a ``doc``
node of ``version`` 1 whose ``content`` holds block nodes, each a ``type`` with optional
``content``, ``attrs`` and, for text, ``text`` and ``marks``
(https://developer.atlassian.com/cloud/jira/platform/apis/document/structure/). A plain
string where a document belongs is refused.
"""

from __future__ import annotations

from typing import Any

NODES = frozenset(
    {
        "blockquote",
        "bulletList",
        "codeBlock",
        "date",
        "emoji",
        "expand",
        "hardBreak",
        "heading",
        "inlineCard",
        "listItem",
        "mediaGroup",
        "mediaSingle",
        "mention",
        "orderedList",
        "panel",
        "paragraph",
        "rule",
        "status",
        "table",
        "tableCell",
        "tableHeader",
        "tableRow",
        "text",
    }
)


def _node(value: Any) -> bool:
    if not isinstance(value, dict) or value.get("type") not in NODES:
        return False
    if value["type"] == "text":
        return isinstance(value.get("text"), str) and bool(value["text"])
    content = value.get("content", [])
    return isinstance(content, list) and all(_node(child) for child in content)


def is_document(value: Any) -> bool:
    """Whether ``value`` is an ADF document Jira would accept."""
    if not isinstance(value, dict) or value.get("type") != "doc" or value.get("version") != 1:
        return False
    content = value.get("content")
    return isinstance(content, list) and all(_node(child) for child in content)


def text_of(node: Any) -> str:
    """The document's words, one line per block."""
    if not isinstance(node, dict):
        return ""
    if node.get("type") == "text":
        return str(node.get("text", ""))
    if node.get("type") == "hardBreak":
        return "\n"
    parts = [text_of(child) for child in node.get("content", []) or []]
    if node.get("type") in ("doc", "bulletList", "orderedList", "tableRow", "table"):
        return "\n".join(p for p in parts if p)
    return "".join(parts)


def paragraphs(text: str) -> dict[str, Any]:
    """A document of one paragraph per line of ``text``."""
    lines = [line for line in text.splitlines() if line.strip()]
    return {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": line}]} for line in lines
        ],
    }
