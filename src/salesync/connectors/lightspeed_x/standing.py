"""Where an X-Series sale stands: its ``state`` and ``attributes``, or, from a sale that
still carries only the legacy ``status``, the state and attribute that status maps to
(https://x-series-api.lightspeedhq.com/docs/sales_states_and_attributes). ``status`` is
deprecated in favour of the pair, so the pair decides whenever it is there.

What posts: a ``closed`` sale. A closed ``onaccount`` or ``layby`` sale was paid off over
time and counts on the day of its last payment; any other closed sale on its sale date.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

LEGACY = {
    "SAVED": ("parked", None),
    "OPEN": ("pending", None),
    "VOIDED": ("voided", None),
    "CLOSED": ("closed", None),
    "ONACCOUNT": ("pending", "onaccount"),
    "ONACCOUNT_CLOSED": ("closed", "onaccount"),
    "LAYBY": ("pending", "layby"),
    "LAYBY_CLOSED": ("closed", "layby"),
    "AWAITING_DISPATCH": ("pending", "delivery"),
    "DISPATCHED_CLOSED": ("closed", "delivery"),
    "AWAITING_PICKUP": ("pending", "pickup"),
    "PICKED_UP_CLOSED": ("closed", "pickup"),
    "SERVICE": ("pending", "service"),
    "SERVICE_CLOSED": ("closed", "service"),
}
PAID_OFF = frozenset({"onaccount", "layby"})
STATES = frozenset({"parked", "pending", "voided", "closed"})


@dataclass(frozen=True, slots=True)
class Standing:
    state: str
    attributes: frozenset[str]

    @property
    def closed(self) -> bool:
        return self.state == "closed"

    @property
    def known(self) -> bool:
        return self.state in STATES

    @property
    def paid_off(self) -> bool:
        """Paid over time (an account or a layby): it counts when the last payment came."""
        return bool(self.attributes & PAID_OFF)

    def waiting(self) -> str | None:
        """Why a sale that is not closed posts nothing yet; None for a closed one."""
        if self.state == "parked":
            return "is parked: nothing is sold until it is finished at the register"
        if self.state == "voided":
            return "was voided: nothing was sold"
        if self.state != "pending":
            return None
        if "onaccount" in self.attributes:
            return "is on account: the customer still owes part of it; it posts once paid off"
        if "layby" in self.attributes:
            return "is on layby: the goods are held until paid off; it posts once completed"
        return "is still open (awaiting payment, pickup, delivery or service); it posts once closed"


def standing(state: str | None, attributes: Iterable[str] | None, status: str | None) -> Standing:
    if state:
        return Standing(state, frozenset(attributes or ()))
    mapped, attribute = LEGACY.get(status or "", (status or "unknown", None))
    return Standing(mapped, frozenset({attribute} if attribute else ()))
