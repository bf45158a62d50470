"""A simulated Jira Cloud site's REST API v3, with its workflow, errors and limits.

``create_app()`` serves it; ``JiraSite`` is its in-memory state. Faults are armed with a
``FaultPlan`` per operation name: create_issue, get_issue, edit_issue, get_transitions,
transition_issue, add_comment, get_comments, search and myself (or over HTTP with
POST /_sandbox/faults).
"""

from salesync.sandbox.jira.app import (
    DEFAULT_API_TOKEN,
    DEFAULT_EMAIL,
    DEFAULT_NAME,
    create_app,
)
from salesync.sandbox.jira.service import JiraSandbox
from salesync.sandbox.jira.site import JiraSite

__all__ = [
    "DEFAULT_API_TOKEN",
    "DEFAULT_EMAIL",
    "DEFAULT_NAME",
    "JiraSandbox",
    "JiraSite",
    "create_app",
]
