"""Tickets exported to external issue trackers (GitHub Issues, Jira Cloud) and kept in step.

``TrackerSync(factory, trackers, clock).sync()`` opens an issue for each new ticket, moves
issues as tickets move, reopens issues closed while salesync still sees the failure, closes
resolved tickets whose issues were closed, and brings the comments people write there onto
the tickets' timelines. ``GitHubTracker`` and ``JiraTracker`` implement ``Tracker``.
"""

from salesync.monitor.trackers.github import GitHubTracker
from salesync.monitor.trackers.jira import JiraTracker
from salesync.monitor.trackers.settings import GitHubSettings, JiraSettings
from salesync.monitor.trackers.sync import SyncReport, TrackerProblem, TrackerSync
from salesync.monitor.trackers.tracker import (
    ExternalComment,
    ExternalIssue,
    IssueContent,
    IssueStatus,
    LatestFailure,
    Tracker,
)

__all__ = [
    "ExternalComment",
    "ExternalIssue",
    "GitHubSettings",
    "GitHubTracker",
    "IssueContent",
    "IssueStatus",
    "JiraSettings",
    "JiraTracker",
    "LatestFailure",
    "SyncReport",
    "Tracker",
    "TrackerProblem",
    "TrackerSync",
]
