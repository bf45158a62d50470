"""A simulated GitHub repository's Issues REST API (v3), with GitHub's limits and errors.

``create_app()`` serves it; ``GitHubRepo`` is its in-memory state. Faults are armed with a
``FaultPlan`` per operation name: create_issue, get_issue, update_issue, list_issues,
list_events, create_comment, list_comments and get_user (or over HTTP with
POST /_sandbox/faults).
"""

from salesync.sandbox.github.app import DEFAULT_LOGIN, DEFAULT_TOKEN, create_app
from salesync.sandbox.github.repo import GitHubRepo
from salesync.sandbox.github.service import GitHubSandbox

__all__ = ["DEFAULT_LOGIN", "DEFAULT_TOKEN", "GitHubRepo", "GitHubSandbox", "create_app"]
