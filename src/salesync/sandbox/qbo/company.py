"""The state of one simulated QuickBooks Online company: objects, settings, replays, time."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from salesync.clock import system_clock
from salesync.sandbox.qbo.seed import seed_entities


@dataclass(slots=True)
class QboSettings:
    """Company preferences and account status the API's behaviour depends on."""

    duplicate_doc_number_check: bool = True
    """QBO's "warn if duplicate number" preference: a reused DocNumber is refused (6140)."""
    subscription_active: bool = True
    """False once the trial or subscription has ended: every API call gets 6190."""
    requestid_ttl: timedelta | None = None
    """How long a requestid is remembered; Intuit documents no limit, so None keeps it."""


@dataclass(frozen=True, slots=True)
class Replay:
    """The response first given to a ``requestid``, replayed to any retry with that id."""

    status: int
    body: dict[str, Any]
    at: datetime


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One API call as the sandbox saw it, for tests and the demo to inspect."""

    at: datetime
    method: str
    operation: str
    requestid: str | None
    minorversion: int
    status: int


@dataclass
class QboCompany:
    """One realm: its objects by entity and Id, preferences, requestid replays and clock.

    All access goes through ``lock``; the app holds it for a whole operation so a create is
    atomic with its duplicate checks and its replay record.
    """

    realm_id: str = "9341453050000000"
    name: str = "Sandbox Company US"
    clock: Callable[[], datetime] = system_clock
    settings: QboSettings = field(default_factory=QboSettings)
    lock: threading.RLock = field(default_factory=threading.RLock)
    offset: timedelta = timedelta(0)
    entities: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    replays: dict[str, Replay] = field(default_factory=dict)
    requests: list[RequestRecord] = field(default_factory=list)
    _next_id: int = 100

    def __post_init__(self) -> None:
        if not self.entities:
            self.entities = seed_entities(self.timestamp())

    def now(self) -> datetime:
        """The company's time: the injected clock moved by any ``advance``."""
        return self.clock() + self.offset

    def advance(self, delta: timedelta) -> None:
        if delta < timedelta(0):
            raise ValueError("time only moves forward")
        with self.lock:
            self.offset += delta

    def timestamp(self) -> str:
        return self.now().isoformat(timespec="seconds")

    def new_id(self) -> str:
        with self.lock:
            self._next_id += 1
            return str(self._next_id)

    def get(self, entity: str, entity_id: str) -> dict[str, Any] | None:
        with self.lock:
            found = self.entities.get(entity, {}).get(entity_id)
            return copy.deepcopy(found) if found is not None else None

    def all(self, entity: str) -> list[dict[str, Any]]:
        with self.lock:
            return [copy.deepcopy(o) for o in self.entities.get(entity, {}).values()]

    def first(self, entity: str, where: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
        """A copy of the first ``entity`` object ``where`` holds for, copying no other."""
        with self.lock:
            for obj in self.entities.get(entity, {}).values():
                if where(obj):
                    return copy.deepcopy(obj)
            return None

    def put(self, entity: str, obj: dict[str, Any]) -> None:
        with self.lock:
            self.entities.setdefault(entity, {})[obj["Id"]] = copy.deepcopy(obj)

    def replay(self, requestid: str) -> Replay | None:
        """The remembered response for ``requestid``, unless it has aged out."""
        with self.lock:
            found = self.replays.get(requestid)
            ttl = self.settings.requestid_ttl
            if found is not None and ttl is not None and self.now() - found.at >= ttl:
                del self.replays[requestid]
                return None
            return found

    def remember(self, requestid: str, status: int, body: dict[str, Any]) -> None:
        with self.lock:
            self.replays[requestid] = Replay(status, copy.deepcopy(body), self.now())

    def record(self, entry: RequestRecord) -> None:
        with self.lock:
            self.requests.append(entry)
