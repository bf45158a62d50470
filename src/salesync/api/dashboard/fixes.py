"""The one-click mapping fix, wherever the dashboard offers it (held records, a document,
a mapping ticket): the form's choices, and publishing the rule a person picked.

A fix is a ``Suggestion`` (what was unmapped, and the rule that would place it) with the
accounts a person may choose; publishing it adds that one rule to the latest mapping,
which releases the held documents to be planned again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.orm import Session

from salesync.accounts.roles import Action
from salesync.api.dashboard.shell import Dashboard, Viewer
from salesync.domain.errors import ConflictError
from salesync.engine.mappings import Mappings
from salesync.rules import MappingDataError
from salesync.views.held import Suggestion, account_choices, placeable, suggestions

TEMPLATE = "dashboard/mapping_fix.html"
"""The forms of a list of ``Fix``; the page sets ``fixes`` and ``fix_action``."""


@dataclass(frozen=True, slots=True)
class Fix:
    """A one-click mapping fix, with the accounts (or classes) to pick from."""

    suggestion: Suggestion
    choices: list[str]


def fixes(session: Session, tenant_id: str, found: Sequence[Suggestion]) -> list[Fix]:
    """``found`` suggestions as fixes, each with the choices of its target."""
    choices: dict[str, list[str]] = {}
    for s in found:
        if s.target not in choices:
            choices[s.target] = account_choices(session, tenant_id, s.target)
    return [Fix(s, choices[s.target]) for s in found]


async def publish(
    dash: Dashboard,
    request: Request,
    tenant_id: str,
    *,
    check: Callable[[], None] | None = None,
) -> tuple[Viewer, str]:
    """Publish the rule a fix form chose (Action.EDIT_MAPPINGS, CSRF-checked); the viewer
    and the notice saying what was released. ``check`` runs first, off the event loop
    (a ticket page checks the ticket is the tenant's). Bad choices are refused (400) with
    what to change, a clash with another person's change (409) with what to do."""
    viewer = dash.viewer(request, tenant_id, Action.EDIT_MAPPINGS)
    fields = await dash.form(request, viewer)
    target, condition = fields.get("target", ""), fields.get("condition", "")
    account = fields.get("new_account", "").strip() or fields.get("account", "").strip()

    def run() -> tuple[int, int, int]:
        if check is not None:
            check()
        with dash.factory() as session, session.begin():
            waiting = [
                d
                for s in suggestions(session, tenant_id)
                if s.target == target and s.condition == condition
                for d in s.documents
            ]
            version = Mappings(session, tenant_id).add_rule(
                target, condition, account, dash.clock(), by=viewer.principal.email
            )
            return version, len(waiting), placeable(session, tenant_id, waiting)

    try:
        if not account:
            raise MappingDataError(["choose the account these amounts should go to"])
        version, waiting, ready = await dash.blocking(run)
    except MappingDataError as bad:
        raise dash.refuse(
            viewer, 400, "The mapping was not changed: " + "; ".join(bad.problems) + "."
        ) from None
    except ConflictError as clash:
        raise dash.refuse(viewer, 409, clash.user_message) from None
    still = waiting - ready
    more = f" {still} still wait for another mapping." if still else ""
    return viewer, (
        f"Published mapping version {version}: {condition} goes to {account}. "
        f"{ready} held document(s) released; they post with the next sync.{more}"
    )
