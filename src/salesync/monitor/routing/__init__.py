"""Routing tickets to the people who own that code.

``SupportConfig`` holds the teams (members, on-call rotation or round-robin turns,
acknowledgement deadline, escalation target) and the ownership rules; ``Assigner`` applies
it to the tickets in the database. ``DEFAULT_SUPPORT`` is used when nothing is configured.
"""

from salesync.monitor.routing.assigner import Assigner, AssignmentError
from salesync.monitor.routing.config import (
    DEFAULT_SUPPORT,
    EscalationTarget,
    Member,
    Rotation,
    SupportConfig,
    SupportConfigError,
    TeamConfig,
    load_support,
    parse_support,
)
from salesync.monitor.routing.oncall import (
    OnCall,
    Override,
    Shift,
    on_call,
    shift_at,
    who_is_on_call,
)
from salesync.monitor.routing.outcomes import (
    Acknowledgement,
    Assignment,
    AssignReport,
    Escalation,
    EscalationReport,
    Unescalated,
)
from salesync.monitor.routing.rules import (
    Rule,
    RuleError,
    RulesError,
    parse_rule,
    parse_rules,
    route,
)
from salesync.monitor.routing.schedule import WorkingHours, parse_duration, parse_hours

__all__ = [
    "DEFAULT_SUPPORT",
    "Acknowledgement",
    "AssignReport",
    "Assigner",
    "Assignment",
    "AssignmentError",
    "Escalation",
    "EscalationReport",
    "EscalationTarget",
    "Member",
    "OnCall",
    "Override",
    "Rotation",
    "Rule",
    "RuleError",
    "RulesError",
    "Shift",
    "SupportConfig",
    "SupportConfigError",
    "TeamConfig",
    "Unescalated",
    "WorkingHours",
    "load_support",
    "on_call",
    "parse_duration",
    "parse_hours",
    "parse_rule",
    "parse_rules",
    "parse_support",
    "route",
    "shift_at",
    "who_is_on_call",
]
