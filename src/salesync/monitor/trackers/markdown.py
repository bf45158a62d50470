"""A ticket as a GitHub issue: a title within GitHub's 256 characters and a Markdown body
ending in the hidden marker the issue is found again by."""

from __future__ import annotations

import re

from salesync.monitor.trackers.content import facts, latest_line
from salesync.monitor.trackers.tracker import MARKER, IssueContent

TITLE_MAX = 256


def marker(ticket_id: int) -> str:
    return f"<!-- {MARKER}:{ticket_id} -->"


def marked(body: str | None) -> int | None:
    """The ticket id a body's marker names, if it has one."""
    found = re.search(rf"<!-- {MARKER}:(\d+) -->", body or "")
    return int(found.group(1)) if found else None


def title(content: IssueContent) -> str:
    text = " ".join(content.title.split())
    return text if len(text) <= TITLE_MAX else text[: TITLE_MAX - 1] + "…"


def _cell(value: str) -> str:
    return " ".join(value.split()).replace("|", "\\|")


def _fenced(text: str) -> str:
    """``text`` in a code block whose fence no run of backticks inside can close."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def body(content: IssueContent) -> str:
    lines = [content.user_message.strip(), "", f"| salesync ticket | {content.ticket_id} |"]
    lines.append("|---|---|")
    lines += [f"| {label} | {_cell(value)} |" for label, value in facts(content)]
    if content.latest is not None:
        lines += ["", f"**Latest failure** · {_cell(latest_line(content.latest))}", ""]
        lines.append(_fenced(content.latest.message.strip() or "(no message)"))
    lines += ["", marker(content.ticket_id)]
    return "\n".join(lines)
