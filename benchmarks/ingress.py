"""Webhook ingress throughput: signed deliveries through the real endpoint under uvicorn,
beside a bare endpoint on the same server.

The server (one uvicorn worker, in a subprocess) serves salesync's API on a SQLite file in
WAL mode under a temporary folder, plus ``POST /bare/{connection_id}``, which reads the body
and answers 200 without doing anything. The driver sends the same number of distinct,
Shopify-signed ``orders/paid`` deliveries to each, ``--concurrency`` at a time over
kept-alive connections, and prints requests per second, p50/p99 latency and the server's
CPU time per request for both, and the ratio of their throughputs.
A delivery counts only once its 200 came back, which the real endpoint sends after the
records were committed; at the end the inbox is counted to prove every one was stored.

Deliveries are verified by salesync's Shopify connector when it is installed, else by a
stand-in that checks the same signature. Usage:
    python benchmarks/ingress.py [--requests 3000] [--concurrency 16,64] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from fastapi import Request, Response
from sqlalchemy import func, select

from salesync.api import create_app, server
from salesync.clock import system_clock
from salesync.connectors.registry import SourceRegistry, sources
from salesync.connectors.source import (
    ForgedWebhookError,
    Source,
    SourceCapabilities,
    SourceClient,
    SourceConnection,
    SourceContext,
    SourceRecord,
    Translated,
    Webhook,
    WebhookRequest,
)
from salesync.domain.documents import DocumentKind, Location, Tenant
from salesync.domain.errors import ValidationError
from salesync.domain.validation import Problem
from salesync.store.database import make_engine, migrate, session_factory
from salesync.store.repositories import Connections, Locations, Tenants
from salesync.store.tables import InboxRecordRow
from salesync.store.vault import Vault, new_key

SHOP_KEY = "benchmark-shop-key"
SHOP = "bench.myshopify.com"
TENANT = "bench"
CREDENTIALS = {"client_secret": SHOP_KEY, "access_token": "shpat_benchmark"}


class BenchShopSource:
    """A stand-in for when salesync's Shopify connector is not installed: verifies
    deliveries the way Shopify signs them (base64 HMAC-SHA256 of the raw body under the
    app secret, compared in constant time), reads the event id and trigger time from the
    headers and the order from the JSON body."""

    name = "bench_shop"
    capabilities = SourceCapabilities(
        kinds=frozenset({DocumentKind.SALE}), webhooks=True, replay_horizon=timedelta(hours=5)
    )

    def verify(self, request: WebhookRequest, connection: SourceConnection) -> Webhook:
        secret = str(connection.credentials["client_secret"]).encode()
        expected = base64.b64encode(hmac.new(secret, request.body, hashlib.sha256).digest())
        given = request.headers.get("x-shopify-hmac-sha256", "").encode()
        if not hmac.compare_digest(expected, given):
            raise ForgedWebhookError("X-Shopify-Hmac-Sha256 does not match the body")
        try:
            order = json.loads(request.body)
            str(order["id"])
        except (ValueError, KeyError, TypeError):
            raise ValidationError(
                "not an order", problems=(Problem("malformed_body", "not an order", ""),)
            ) from None
        triggered = request.headers.get("x-shopify-triggered-at")
        return Webhook(
            topic=request.headers.get("x-shopify-topic", ""),
            event_id=request.headers.get("x-shopify-event-id"),
            triggered_at=datetime.fromisoformat(triggered) if triggered else None,
            records=(SourceRecord("order", request.body.decode(), None),),
        )

    def translate(self, record_type: str, payload: str, context: SourceContext) -> Translated:
        raise ValidationError("the benchmark only measures ingress")

    def connect(
        self, connection: SourceConnection, transport: httpx.BaseTransport | None = None
    ) -> SourceClient:
        raise NotImplementedError("the benchmark only measures ingress")


def order(n: int) -> bytes:
    """An orders/paid body of about 2.5 KB, distinct for each ``n``."""
    lines = [
        {
            "id": n * 10 + i,
            "sku": f"SKU-{i:03d}",
            "title": f"Product {i}",
            "quantity": 1 + i % 3,
            "price": f"{4 + i}.50",
            "tax_lines": [{"title": "NY sales tax", "rate": 0.08875, "price": "0.40"}],
            "discount_allocations": [],
        }
        for i in range(6)
    ]
    body = {
        "id": 5_000_000 + n,
        "name": f"#{1000 + n}",
        "created_at": "2026-10-29T12:00:00-04:00",
        "currency": "USD",
        "financial_status": "paid",
        "total_price": "61.23",
        "line_items": lines,
        "shipping_lines": [],
        "transactions": [{"kind": "sale", "gateway": "shopify_payments", "amount": "61.23"}],
        "note": "x" * 600,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def signed(n: int) -> Delivery:
    body = order(n)
    digest = hmac.new(SHOP_KEY.encode(), body, hashlib.sha256).digest()
    return body, {
        "Content-Type": "application/json",
        "X-Shopify-Topic": "orders/paid",
        "X-Shopify-Shop-Domain": SHOP,
        "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
        "X-Shopify-Event-Id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench/{n}")),
        "X-Shopify-Triggered-At": datetime.now(UTC).isoformat(),
    }


def shop_source() -> Source:
    """salesync's Shopify connector when it is installed and verifies a delivery signed
    the Shopify way; else the stand-in."""
    try:
        shopify = sources().get("shopify")
        body, headers = signed(0)
        delivery = WebhookRequest(
            "http://127.0.0.1/webhooks/probe", {k.lower(): v for k, v in headers.items()}, body
        )
        probe = SourceConnection(TENANT, "probe", "probe", {"shop": SHOP}, CREDENTIALS)
        if shopify.verify(delivery, probe).records:
            return shopify
    except Exception:  # noqa: S110 -- any failure means: use the stand-in
        pass
    return BenchShopSource()


def prepare(url: str, source: Source) -> str:
    """A migrated database with one merchant and one shop connection; its id."""
    db = make_engine(url)
    migrate(db)
    vault = Vault([Path(url.removeprefix("sqlite:///")).with_suffix(".key").read_text()])
    with session_factory(db)() as session, session.begin():
        Tenants(session).add(Tenant(TENANT, "Benchmark merchant"))
        Locations(session, TENANT).add(Location("web", TENANT, "Web", "America/New_York", "USD"))
        connection_id = Connections(session, TENANT, vault).add(
            source.name,
            "source",
            "Bench shop",
            CREDENTIALS,
            {"shop": SHOP, "currency": "USD", "default_location": "web"},
        )
    db.dispose()
    return connection_id


def serve(url: str, port: int) -> None:
    """The server process: the real API plus the bare endpoint, one uvicorn worker."""
    db = make_engine(url)
    vault = Vault([Path(url.removeprefix("sqlite:///")).with_suffix(".key").read_text()])
    registry = SourceRegistry(points=[])
    registry.add(shop_source())
    app = create_app(session_factory(db), system_clock, vault, registry=registry)

    @app.post("/bare/{connection_id}")
    async def bare(connection_id: str, request: Request) -> Response:
        await request.body()
        return Response(b'{"status":"ok"}', media_type="application/json")

    @app.get("/commits")
    async def commits() -> dict[str, int]:
        return {"jobs": app.state.writer.jobs, "commits": app.state.writer.commits}

    server.run(app, "127.0.0.1", port, log_level="warning")


Delivery = tuple[bytes, dict[str, str]]


@dataclass(frozen=True, slots=True)
class Result:
    name: str
    requests: int
    seconds: float
    latencies: list[float]
    server_cpu: float = 0.0
    """CPU seconds the server process spent meanwhile (all its threads)."""
    per_commit: float = 0.0
    """Deliveries per group commit."""

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000

    def line(self) -> str:
        return (
            f"{self.name:>8}: {self.requests:>6} requests in {self.seconds:6.2f} s = "
            f"{self.rate:7.0f} req/s, p50 {self.percentile(0.5):6.2f} ms, "
            f"p99 {self.percentile(0.99):6.2f} ms, "
            f"server CPU {self.server_cpu / self.requests * 1e6:5.0f} µs/request"
            + (f", {self.per_commit:4.1f} per commit" if self.per_commit else "")
        )


def raw_request(host: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    """The HTTP/1.1 request as it goes on the wire, built before the clock starts."""
    head = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    """Send one request on a kept-alive connection and read its whole answer."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


async def drive(
    name: str, port: int, path: str, deliveries: list[Delivery], workers: int
) -> Result:
    """Send every delivery, ``workers`` connections at a time; each must come back 200.

    The client is a few lines of asyncio rather than httpx: on a two-core machine the
    client shares the CPU with the server, and httpx's pool would cost more per request
    than the bare endpoint does, hiding the difference being measured.
    """
    requests = [raw_request(f"127.0.0.1:{port}", path, body, h) for body, h in deliveries]
    latencies: list[float] = []
    pending = iter(requests)

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for request in pending:
                started = time.perf_counter()
                status, answer = await exchange(reader, writer, request)
                latencies.append(time.perf_counter() - started)
                if status != 200:
                    raise RuntimeError(f"{name}: {status} {answer.decode(errors='replace')}")
        finally:
            writer.close()
            await writer.wait_closed()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return Result(name, len(requests), time.perf_counter() - started, latencies)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(base: str, path: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the server exited before it was ready")
        try:
            if httpx.post(base + path, content=b"{}").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("the server did not start within 30 s")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process ``pid`` so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Server:
    """The running server: where it listens and which process it is."""

    port: int
    pid: int
    connection_id: str

    def commits(self) -> tuple[int, int]:
        counts = httpx.get(f"http://127.0.0.1:{self.port}/commits").json()
        return int(counts["jobs"]), int(counts["commits"])

    def measure(self, name: str, path: str, deliveries: list[Delivery], workers: int) -> Result:
        """Drive ``path`` with ``deliveries``; the result carries the server's CPU time
        and, for the real endpoint, how many deliveries shared each commit."""
        jobs, commits = self.commits()
        before = cpu_seconds(self.pid)
        result = asyncio.run(drive(name, self.port, path, deliveries, workers))
        cpu = cpu_seconds(self.pid) - before
        jobs_after, commits_after = self.commits()
        shared = commits_after - commits
        return replace(
            result,
            server_cpu=cpu,
            per_commit=(jobs_after - jobs) / shared if shared else 0.0,
        )


def compare(server: Server, requests: int, rounds: int, workers: int, first: int) -> float:
    """Alternate the bare and the real endpoint ``rounds`` times at ``workers`` in
    flight; returns the median ratio of their throughputs."""
    bare_path, real_path = f"/bare/{server.connection_id}", f"/webhooks/{server.connection_id}"
    bare: list[Result] = []
    real: list[Result] = []
    print(f"{workers} in flight:")
    for round_no in range(rounds):
        batch = [signed(first + round_no * requests + n) for n in range(requests)]
        bare.append(server.measure("bare", bare_path, batch, workers))
        real.append(server.measure("ingress", real_path, batch, workers))
        print("  " + bare[-1].line())
        print("  " + real[-1].line())
    bare_rate = statistics.median(r.rate for r in bare)
    real_rate = statistics.median(r.rate for r in real)
    ratio = real_rate / bare_rate
    print(
        f"  median: bare {bare_rate:.0f} req/s, ingress {real_rate:.0f} req/s: "
        f"ingress / bare = {ratio:.0%}"
    )
    return ratio


def run(args: argparse.Namespace, server: Server, url: str, source: Source) -> None:
    levels = [int(c) for c in args.concurrency.split(",")]
    verifier = (
        "a stand-in HMAC source (the Shopify connector is not installed)"
        if isinstance(source, BenchShopSource)
        else "salesync's Shopify connector"
    )
    print(f"Deliveries verified by {verifier}.")
    print(
        f"Signed orders/paid deliveries of {len(order(0)) / 1024:.1f} KB, {args.requests} per "
        f"endpoint and round, {args.rounds} rounds; one uvicorn worker, SQLite in WAL mode, "
        f"each delivery committed before its 200; {os.cpu_count()} CPUs shared with the client"
    )
    warm = [signed(-n) for n in range(1, 201)]
    server.measure("warm-up", f"/bare/{server.connection_id}", warm, levels[0])
    server.measure("warm-up", f"/webhooks/{server.connection_id}", warm, levels[0])
    ratios = {}
    for i, workers in enumerate(levels):
        ratios[workers] = compare(server, args.requests, args.rounds, workers, i * 10**7)
    db = make_engine(url)
    with session_factory(db)() as session:
        stored = session.scalar(select(func.count()).select_from(InboxRecordRow))
    db.dispose()
    expected = len(warm) + len(levels) * args.rounds * args.requests
    print(
        "ingress / bare throughput: "
        + ", ".join(f"{r:.0%} at {w} in flight" for w, r in ratios.items())
        + f"; {stored} of {expected} deliveries committed in the inbox"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000, help="deliveries per round")
    parser.add_argument(
        "--concurrency", default="16,64", help="requests in flight, comma-separated levels"
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per level")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return
    with tempfile.TemporaryDirectory(prefix="salesync-ingress-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'ingress.db'}"
        (Path(tmp) / "ingress.key").write_text(new_key())
        source = shop_source()
        connection_id = prepare(url, source)
        port = free_port()
        command = [sys.executable, __file__, "--serve", url, "--port", str(port)]
        process = subprocess.Popen(command)  # noqa: S603 -- this very script, by path
        try:
            wait_ready(f"http://127.0.0.1:{port}", f"/bare/{connection_id}", process)
            run(args, Server(port, process.pid, connection_id), url, source)
        finally:
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
