import threading

import httpx
import pytest
from fastapi import FastAPI

from salesync.sandbox.faults import Fault, FaultKind, FaultPlan
from salesync.sandbox.server import serving


def test_faults_fire_in_order_for_their_operation_then_stop() -> None:
    plan = FaultPlan()
    plan.arm("post", FaultKind.RATE_LIMITED, times=2)
    plan.arm("post", Fault(FaultKind.SERVER_ERROR, status=502))
    assert plan.take("get") is None
    taken = [plan.take("post") for _ in range(4)]
    assert [f.kind if f else None for f in taken] == [
        FaultKind.RATE_LIMITED,
        FaultKind.RATE_LIMITED,
        FaultKind.SERVER_ERROR,
        None,
    ]
    assert taken[2] is not None
    assert taken[2].status == 502
    assert plan.pending() == 0


def test_wildcard_faults_match_any_operation_and_can_be_cleared() -> None:
    plan = FaultPlan()
    plan.arm("*", FaultKind.LOST_RESPONSE, times=3)
    assert plan.take("anything") == Fault(FaultKind.LOST_RESPONSE)
    plan.clear()
    assert plan.take("anything") is None
    with pytest.raises(ValueError, match="at least 1"):
        plan.arm("x", FaultKind.SLOW, times=0)


def test_concurrent_takes_never_hand_out_one_fault_twice() -> None:
    plan = FaultPlan()
    plan.arm("op", FaultKind.SERVER_ERROR, times=500)
    got: list[Fault | None] = []

    def worker() -> None:
        for _ in range(200):
            got.append(plan.take("op"))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(1 for f in got if f is not None) == 500


def test_serving_runs_an_app_on_a_free_port_and_stops() -> None:
    app = FastAPI()

    @app.get("/ping")
    def ping() -> dict[str, str]:
        return {"ok": "yes"}

    with serving(app) as url:
        assert httpx.get(f"{url}/ping").json() == {"ok": "yes"}
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/ping", timeout=1)
