"""A tenant's published mapping versions in the database, and what publishing one does.

Versions are immutable and numbered 1, 2, 3, ...; the primary key (tenant, version) makes
two people publishing at once collide instead of both winning. Publishing releases every
document held for a mapping, so the next plan places them with the new rules; a document
still missing a mapping is held again, with its problems refreshed.

``add_rule`` is the one-click fix a held document offers: the latest version plus one rule
for the value it names, placed before the target's catch-all rule so that it wins.
"""

from __future__ import annotations

from collections.abc import Mapping as AbcMapping
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from salesync.domain.errors import ConflictError
from salesync.rules import (
    Mapping,
    MappingDataError,
    MappingHistory,
    Rule,
    Target,
    mapping_from_dict,
    mapping_to_dict,
)
from salesync.store.repositories import TenantScoped
from salesync.store.tables import MappingVersionRow, QueuedDocumentRow


class Mappings(TenantScoped):
    def __init__(self, session: Session, tenant_id: str) -> None:
        super().__init__(session, tenant_id)
        self._history: MappingHistory | None = None
        self.released = 0
        """How many held documents the last ``publish`` released."""

    def history(self) -> MappingHistory:
        if self._history is None:
            query = (
                select(MappingVersionRow)
                .where(MappingVersionRow.tenant_id == self.tenant_id)
                .order_by(MappingVersionRow.version)
            )
            self._history = MappingHistory(
                mapping_from_dict(row.body) for row in self.session.scalars(query)
            )
        return self._history

    def latest(self) -> Mapping | None:
        """The version in force; None when the tenant posts with the built-in chart."""
        return self.history().latest

    def at(self, version: int) -> Mapping:
        return self.history().at(version)

    def publish(self, mapping: Mapping, now: datetime, *, by: str = "") -> int:
        """Publish ``mapping`` as the next version and release what was held for a mapping.

        Raises ``ConflictError`` when that version number was taken meanwhile.
        """
        history = self.history()
        known = history.next_version
        version = history.publish(mapping)
        if version < known:
            return version  # the same content again: nothing new
        try:
            with self.session.begin_nested():
                self.session.add(
                    MappingVersionRow(
                        tenant_id=self.tenant_id,
                        version=version,
                        body=mapping_to_dict(mapping),
                        published_at=now,
                        published_by=by,
                    )
                )
                self.session.flush()
        except IntegrityError:
            self._history = None
            raise ConflictError(
                f"mapping version {version} of tenant {self.tenant_id} was published meanwhile",
                user_message="These mappings were changed by someone else meanwhile. "
                "Reload them and make your change again.",
                code="mapping_version_published",
                tenant=self.tenant_id,
            ) from None
        self.released = self.release_held()
        return version

    def add_rule(
        self, target: Target | str, condition: str, account: str, now: datetime, *, by: str = ""
    ) -> int:
        """Publish the latest version plus one rule sending ``target`` values that meet
        ``condition`` to ``account`` (a class, for location rules); returns the new version.

        The rule goes before the target's catch-all rule (condition ``true``), else the
        catch-all would keep winning. A condition or account that makes no valid rule is
        refused with a ``MappingDataError`` saying what to change, and so is a rule the
        mapping already has for that very condition: that one should be edited instead.
        """
        try:
            which = Target(target)
        except ValueError:
            known = ", ".join(t.value for t in Target)
            raise MappingDataError([f"target {target!r} is not one of {known}"]) from None
        latest = self.latest()
        if latest is None:
            raise MappingDataError(
                [
                    "no mapping is published yet, so nothing is held for one; publish a "
                    "whole mapping first (a preset such as strict_retail is a good start)"
                ]
            )
        try:
            if which is Target.LOCATION:
                rule = Rule(which, condition, klass=account.strip() or None)
            else:
                rule = Rule(which, condition, account.strip())
        except ValueError as error:
            raise MappingDataError([f"the new {which.value} rule: {error}"]) from None
        for existing in latest.rules_for(which):
            if existing.when.strip() == rule.when.strip():
                where = existing.klass if which is Target.LOCATION else existing.account
                raise MappingDataError(
                    [
                        f"version {latest.version} already has the {which.value} rule "
                        f"{existing.when!r} (to {where}); change that rule instead of adding "
                        "a second one"
                    ]
                )
        rules = list(latest.rules)
        catch_all = next(
            (i for i, r in enumerate(rules) if r.target is which and r.condition.is_catch_all),
            len(rules),
        )
        rules.insert(catch_all, rule)
        try:
            mapping = replace(latest, version=latest.version + 1, rules=tuple(rules))
        except ValueError as error:
            raise MappingDataError([f"the new {which.value} rule: {error}"]) from None
        return self.publish(mapping, now, by=by)

    def publish_data(self, data: AbcMapping[str, Any], now: datetime, *, by: str = "") -> int:
        """Publish mapping data (as ``mapping_to_dict`` writes it); bad data is refused with
        a ``MappingDataError`` that lists every problem."""
        return self.publish(mapping_from_dict(data), now, by=by)

    def release_held(self, document_ids: Sequence[str] | None = None) -> int:
        """Let the documents held for a mapping be planned again (every one, or those of
        ``document_ids``); returns how many."""
        if document_ids is not None and not document_ids:
            return 0
        query = update(QueuedDocumentRow).where(
            QueuedDocumentRow.tenant_id == self.tenant_id, QueuedDocumentRow.held
        )
        if document_ids is not None:
            query = query.where(QueuedDocumentRow.document_id.in_(list(document_ids)))
        result = self.session.execute(
            query.values(held=False, problems=[], mapping_version=None).execution_options(
                synchronize_session=False
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def held(self) -> list[QueuedDocumentRow]:
        """Documents waiting for a mapping, with the problems that name what to map."""
        query = select(QueuedDocumentRow).where(
            QueuedDocumentRow.tenant_id == self.tenant_id, QueuedDocumentRow.held
        )
        return list(self.session.scalars(query.order_by(QueuedDocumentRow.document_id)))
