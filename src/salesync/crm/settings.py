"""The ``[crm]`` table of the configuration file."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field


class CrmSettings(BaseModel):
    """How the built-in CRM keeps up: on or off, how late a trigger may still fire, and
    how much history one tick brings in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(default=True, description="keep the built-in CRM current")
    trigger_horizon_hours: int = Field(
        default=48,
        ge=1,
        description="a trigger due longer ago than this is skipped and recorded, not fired",
    )
    backfill_batch: int = Field(
        default=100,
        ge=1,
        description="most sales of the initial import brought into the CRM per tick",
    )

    @property
    def horizon(self) -> timedelta:
        return timedelta(hours=self.trigger_horizon_hours)
