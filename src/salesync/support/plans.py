"""The plan catalog as data: prices per location, terms, support tiers, developer hours,
SLA targets, the scope of work and the escalation rule.

A catalog is a TOML document (``catalogs/proactive.toml`` and ``catalogs/tiered.toml`` ship
with salesync); ``Catalog`` validates it and names every bad entry::

    name = "tiered"
    currency = "USD"
    default_plan = "silver"
    timezone = "America/New_York"          # the support team's, for business hours

    [plans.platinum]
    name = "Platinum"
    base_price = "499.00"                  # per account per month ($5,988 a year)
    location_price = "0.00"                # per active location per month
    term = "annual"                        # billed a year ahead
    support_tier = 2
    developer_hours = 10                   # a subscription year; none = unmetered
    extra_time_price = "250.00"            # per extra_time_block, once the hours are used
    sla = { respond = "1h", resolve = "1d", hours = "mon-fri 09:00-17:00" }

    [[scope]]
    code = "webconnector_reinstall"
    title = "Reinstalling the QuickBooks Web Connector or QuickBooks Desktop"
    in_scope = false
    keywords = ["reinstall web connector", "reinstall quickbooks"]
    article = "out-of-scope-quickbooks-desktop"
    answer = "Reinstalling ... is outside our scope of work because ..."
"""

from __future__ import annotations

import enum
from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, field_validator, model_validator

from salesync.monitor.routing.schedule import Duration, Hours, TimeZoneName

Price = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2), PlainSerializer(str)]
SLUG = r"^[a-z0-9][a-z0-9_\-]*$"


class Term(enum.StrEnum):
    MONTHLY = "monthly"
    ANNUAL = "annual"

    @property
    def months(self) -> int:
        return 12 if self is Term.ANNUAL else 1


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlanSla(_Model):
    """How soon a plan promises a first response and a resolution, counted in the support
    team's business hours (``hours``; every hour of every day when absent)."""

    respond: Duration
    resolve: Duration
    hours: Hours | None = None

    @model_validator(mode="after")
    def _order(self) -> PlanSla:
        if self.resolve < self.respond:
            raise ValueError("resolve must not be sooner than respond")
        return self


class Plan(_Model):
    code: str = Field(pattern=SLUG)
    name: str = Field(min_length=1)
    location_price: Price
    """Per active location per month; an annual term bills twelve months ahead."""
    base_price: Price = Decimal(0)
    """Per account per month, whatever the locations (Platinum's $499 = $5,988 a year)."""
    term: Term
    support_tier: Literal[1, 2]
    """The highest support tier the plan reaches: 1 (support agents) or 2 (developers)."""
    developer_hours: Decimal | None = Field(default=None, ge=0)
    """Developer hours granted each subscription year; None when developer time is
    included without a meter (the proactive model)."""
    extra_time_price: Price | None = None
    """What one ``extra_time_block`` of developer time costs once the hours are used up;
    None when extra time cannot be bought on this plan."""
    extra_time_block: Duration = timedelta(minutes=30)
    sla: PlanSla
    rank: int = 0
    """Plans upgrade to a higher rank."""

    @property
    def metered(self) -> bool:
        """Developer time on this plan is counted against granted hours."""
        return self.developer_hours is not None

    def monthly_price(self, locations: int) -> Decimal:
        """A month of this plan for ``locations`` active locations."""
        return self.base_price + self.location_price * locations

    def term_price(self, locations: int) -> Decimal:
        """A whole term of this plan for ``locations`` active locations."""
        return self.monthly_price(locations) * self.term.months


class ScopeCategory(_Model):
    """One kind of support request, in or out of the scope of work."""

    code: str = Field(pattern=SLUG)
    title: str = Field(min_length=1)
    in_scope: bool
    keywords: tuple[str, ...] = ()
    """Phrases that place a request in this category (lower case, matched on words)."""
    article: str | None = Field(default=None, pattern=SLUG)
    """The knowledge-base article that answers it."""
    answer: str = ""
    """The policy text sent back; required for an out-of-scope category."""

    @model_validator(mode="after")
    def _answer(self) -> ScopeCategory:
        if not self.in_scope and not self.answer.strip():
            raise ValueError(f"{self.code}: an out-of-scope category needs the policy answer")
        return self


class EscalationPolicy(_Model):
    """Who may reach Tier 2: customers on a plan whose ``support_tier`` is 2, and anyone
    whose failure began within ``regression_window`` after a salesync release that touched
    what failed (a regression is ours to fix, whatever the plan)."""

    regressions: bool = True
    regression_window: Duration = timedelta(days=14)


class EntitlementPolicy(_Model):
    """How developer hours are granted: the plan's hours at each renewal; a plan taken up
    with less than ``short_period_months`` left to renewal grants ``short_period_hours``."""

    short_period_months: int = Field(default=6, ge=1, le=12)
    short_period_hours: Decimal = Field(default=Decimal(5), ge=0)
    increment: Duration = timedelta(minutes=15)


class Catalog(_Model):
    name: str = Field(pattern=SLUG)
    model: Literal["proactive", "tiered"]
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    timezone: TimeZoneName = "UTC"
    """The support team's time zone: business hours are counted in it."""
    default_plan: str
    plans: dict[str, Plan] = Field(min_length=1)
    scope: tuple[ScopeCategory, ...] = ()
    escalation: EscalationPolicy = EscalationPolicy()
    entitlements: EntitlementPolicy = EntitlementPolicy()

    @field_validator("plans", mode="before")
    @classmethod
    def _code_plans(cls, value: object) -> object:
        if isinstance(value, dict):
            return {
                key: {"code": key, **plan} if isinstance(plan, dict) else plan
                for key, plan in value.items()
            }
        return value

    @model_validator(mode="after")
    def _check(self) -> Catalog:
        problems = []
        if self.default_plan not in self.plans:
            problems.append(
                f"default_plan: no plan {self.default_plan!r}; plans: {', '.join(self.plans)}"
            )
        for key, plan in self.plans.items():
            if plan.code != key:
                problems.append(f"plans.{key}: is coded {plan.code!r}; a plan's code is its key")
            if plan.extra_time_price is not None and not plan.metered:
                problems.append(
                    f"plans.{key}: extra_time_price needs developer_hours (time is unmetered)"
                )
        codes = [c.code for c in self.scope]
        problems.extend(
            f"scope: {c!r} listed twice" for c in sorted(set(codes)) if codes.count(c) > 1
        )
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def plan(self, code: str | None) -> Plan:
        """The plan ``code`` names, the default plan for None; KeyError names the choices."""
        found = self.plans.get(code or self.default_plan)
        if found is None:
            raise KeyError(f"no plan {code!r} in the {self.name} catalog; plans: {self.choices}")
        return found

    @property
    def choices(self) -> str:
        return ", ".join(sorted(self.plans))

    def upgrades(self, code: str) -> list[Plan]:
        """Plans above ``code``, cheapest first."""
        current = self.plan(code)
        return sorted(
            (p for p in self.plans.values() if p.rank > current.rank),
            key=lambda p: (p.rank, p.location_price),
        )

    def scope_category(self, code: str) -> ScopeCategory | None:
        return next((c for c in self.scope if c.code == code), None)
