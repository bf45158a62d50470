"""Checks on the fields of an issue as ``POST``/``PUT /rest/api/3/issue`` make them.

Each check adds its field's problem to ``problems`` (field name to Jira's message) so a
request hears of every problem at once, as Jira answers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from salesync.sandbox.jira import adf, errors
from salesync.sandbox.jira.errors import NOT_ADF

if TYPE_CHECKING:
    from salesync.sandbox.jira.site import Project

SUMMARY_MAX = 255
LABEL_MAX = 255


def given(payload: Any) -> dict[str, Any]:
    """The request's ``fields`` object."""
    if not isinstance(payload, dict) or not isinstance(payload.get("fields", {}), dict):
        raise errors.bad_request(
            "Can not deserialize the request body: 'fields' must be an object."
        )
    fields: dict[str, Any] = payload.get("fields", {})
    return fields


def unknown(fields: Mapping[str, Any], allowed: frozenset[str]) -> dict[str, str]:
    return {
        name: f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."
        for name in fields
        if name not in allowed
    }


def issue_type(
    project: Project | None, value: Any, problems: dict[str, str]
) -> tuple[str, str] | None:
    if project is None:
        return None
    if isinstance(value, dict):
        for type_id, name in project.issue_types:
            if value.get("id") == type_id or str(value.get("name", "")).lower() == name.lower():
                return type_id, name
    problems["issuetype"] = "valid issue type is required"
    return None


def summary(value: Any, problems: dict[str, str], *, required: bool) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        problems["summary"] = "You must specify a summary of the issue."
        return None
    if "\n" in value or "\r" in value:
        problems["summary"] = "The summary is invalid because it contains newline characters."
        return None
    if len(value) > SUMMARY_MAX:
        problems["summary"] = "Summary must be less than 255 characters."
        return None
    return value


def description(value: Any, problems: dict[str, str]) -> dict[str, Any] | None:
    if value is None:
        return None
    if not adf.is_document(value):
        problems["description"] = NOT_ADF
        return None
    found: dict[str, Any] = value
    return found


def labels(value: Any, problems: dict[str, str]) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems["labels"] = "Labels must be a list of strings."
        return None
    for label in value:
        if not label or re.search(r"\s", label):
            problems["labels"] = f"The label '{label}' contains spaces which is invalid."
            return None
        if len(label) > LABEL_MAX:
            problems["labels"] = f"The label '{label[:20]}…' exceeds the maximum length of 255."
            return None
    return list(dict.fromkeys(value))


def transition_comments(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Comments added with a transition (``update.comment[].add.body``)."""
    update = payload.get("update")
    comments = update.get("comment", []) if isinstance(update, dict) else []
    bodies = [c.get("add", {}).get("body") for c in comments if isinstance(c, dict)]
    for body in bodies:
        if not adf.is_document(body):
            raise errors.invalid_fields({"comment": NOT_ADF})
    return [b for b in bodies if isinstance(b, dict)]
