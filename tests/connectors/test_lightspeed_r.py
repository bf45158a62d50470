"""The Lightspeed R-Series source: the shared contract against a simulated retailer, and what
is R-Series' own: polling only, the leaky bucket and its headers, hour-long tokens and their
refresh, returns as negative sales linked to the sales they came from, and a week of two
shops' trading through the engine into books that balance and reconcile."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from contract import (
    HistoryContract,
    SourceContract,
    SourceHarness,
    StreamContract,
    stored_sale,
    sweep_stream,
)
from contract import (
    take_in_one_by_one as one_by_one,
)
from lightspeed_r_harness import (
    LOCATIONS,
    START,
    TENANT,
    LightspeedWorld,
    lightspeed_world,
    without,
)
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.connectors.ledger.books import LedgerBooks
from salesync.connectors.lightspeed_r import LightspeedRSource
from salesync.connectors.lightspeed_r.bucket import limits_for, retry_after
from salesync.connectors.pacing import forget_budgets
from salesync.connectors.source import (
    ForgedWebhookError,
    Skip,
    SourceConnection,
    SourceRecord,
    Translated,
    WebhookRequest,
)
from salesync.connectors.tokens import Grant
from salesync.domain.documents import (
    EXCHANGE_TENDER,
    Customer,
    DocumentKind,
    Product,
    Refund,
    Sale,
    TaxMode,
    Tenant,
)
from salesync.domain.errors import AuthError, BugError, ErrorKind, TransientError, ValidationError
from salesync.domain.validation import validate_refund, validate_sale
from salesync.engine.backfill import Backfills, BackfillState
from salesync.engine.inbox import RecordState
from salesync.engine.reconcile import Reconciler
from salesync.engine.runner import Engine
from salesync.engine.sweep import Sweeper
from salesync.sandbox.faults import Fault, FaultKind
from salesync.sandbox.lightspeed_r import Bucket, create_app
from salesync.sandbox.server import serving
from salesync.store.repositories import Connections, Locations, Tenants
from salesync.store.tables import InboxRecordRow, QueuedDocumentRow
from salesync.store.vault import Vault, new_key

WEEK = timedelta(days=7)


@pytest.fixture(scope="module")
def traded() -> Iterator[LightspeedWorld]:
    """A week of trading at two shops."""
    with lightspeed_world(seed=7) as world:
        world.trade(START + WEEK)
        yield world


@pytest.fixture(scope="module")
def sample() -> Iterator[LightspeedWorld]:
    """Two days of trading at two shops: enough of everything for the contract."""
    with lightspeed_world(seed=3) as world:
        world.trade(START + timedelta(days=2))
        yield world


def translate_all(
    world: LightspeedWorld, records: list[SourceRecord]
) -> list[tuple[SourceRecord, Translated]]:
    context = world.connection().context("lightspeed_r")
    source = LightspeedRSource()
    return [(r, source.translate(r.record_type, r.payload, context)) for r in records]


def sweep_all(world: LightspeedWorld, streams: tuple[str, ...] | None = None) -> list[SourceRecord]:
    client = world.source().connect(world.connection(), world.transport)
    try:
        records: list[SourceRecord] = []
        for stream in streams or LightspeedRSource.capabilities.streams:
            records += sweep_stream(client.fetch, stream, None)[0]
        return records
    finally:
        client.close()


def malformed() -> list[SourceRecord]:
    sale = {
        "saleID": "9001",
        "timeStamp": "2026-03-02T15:00:00+00:00",
        "completeTime": "2026-03-02T15:00:00+00:00",
        "completed": "true",
        "calcTotal": "twelve",
        "shopID": "nowhere",
        "SaleLines": {"SaleLine": {"saleLineID": "1", "unitQuantity": "1", "unitPrice": "5"}},
    }
    unlinked_return = {
        **sale,
        "calcTotal": "-5.00",
        "SaleLines": {
            "SaleLine": {
                "saleLineID": "2",
                "unitQuantity": "-1",
                "unitPrice": "5.00",
                "calcSubtotal": "-5.00",
                "parentSaleLineID": "0",
            }
        },
    }
    undated = {
        **sale,
        "completeTime": "",
        "calcTotal": "5.00",
        "SaleLines": {
            "SaleLine": {
                "saleLineID": "3",
                "unitQuantity": "1",
                "unitPrice": "5.00",
                "calcSubtotal": "5.00",
            }
        },
    }
    return [
        SourceRecord("sale", json.dumps({"sale": sale})),
        SourceRecord("sale", json.dumps({"sale": unlinked_return})),
        SourceRecord("sale", json.dumps({"sale": undated})),
        SourceRecord("customer", "[]"),
        SourceRecord("item", json.dumps({"description": "no id"})),
        SourceRecord("register_shift", "{}"),
    ]


class TestLightspeedRSource(SourceContract, StreamContract, HistoryContract):
    @pytest.fixture
    def harness(self, sample: LightspeedWorld) -> SourceHarness:
        return SourceHarness(
            source=LightspeedRSource(),
            connection=sample.connection(),
            locations=LOCATIONS,
            now=sample.clock(),
            transport=sample.transport,
            history_window=(START + timedelta(hours=10), START + timedelta(hours=30)),
            malformed=malformed(),
        )


# -- a week of two shops through the engine ------------------------------------------------


def set_up(
    factory: sessionmaker[Session], world: LightspeedWorld, vault: Vault
) -> SourceConnection:
    """The tenant, its two locations and the Lightspeed connection, stored; returns it opened."""
    with factory() as session, session.begin():
        Tenants(session).add(Tenant(TENANT, "Harbour Outfitters"))
        for location in LOCATIONS:
            Locations(session, TENANT).add(location)
        connection = world.connection()
        connections = Connections(session, TENANT, vault)
        connection_id = connections.add(
            "lightspeed_r",
            "source",
            "Lightspeed",
            dict(connection.credentials),
            dict(connection.settings),
        )
        return connections.opened(connection_id)


def expected_kinds(world: LightspeedWorld) -> Counter[str]:
    """What the account's trading should come to: a sale for each completed sale that sold
    something, a refund for each that took something back (an exchange gives both)."""
    done = [s for s in world.account.data.sales.values() if s.completed and not s.voided]
    return Counter(
        {
            "sale": sum(1 for s in done if any(li.quantity > 0 for li in s.lines)),
            "refund": sum(1 for s in done if any(li.quantity < 0 for li in s.lines)),
        }
    )


def post_and_reconcile(factory: sessionmaker[Session], world: LightspeedWorld) -> None:
    """Take in what is stored, post it, and check the books balance and reconcile to zero."""
    clock = ManualClock(world.clock())
    engine = Engine(factory, clock)
    counts = engine.take_in(TENANT)
    assert counts[RecordState.QUARANTINED.value] == 0
    assert counts[RecordState.PARKED.value] == 0
    clock.advance(timedelta(days=2))
    engine.run_until_idle(TENANT, max_ticks=50)
    with factory() as session:
        waiting = session.scalars(
            select(QueuedDocumentRow.document_id).where(QueuedDocumentRow.planned.is_(False))
        ).all()
        kinds = Counter(session.scalars(select(QueuedDocumentRow.kind)).all())
        balances = LedgerBooks(session, TENANT).trial_balance()
        days = Reconciler(session, TENANT, LOCATIONS).reconcile(
            START.date() - timedelta(days=1), (START + WEEK).date() + timedelta(days=1)
        )
    assert waiting == []
    assert kinds == expected_kinds(world)
    assert kinds["refund"] > 0
    assert sum(row.balance.to_minor() for row in balances) == 0
    exchange = [r.balance.to_minor() for r in balances if r.account.endswith(":Exchange")]
    assert exchange in ([], [0])
    assert {day.location_id for day in days} == {loc.id for loc in LOCATIONS}
    assert len({day.day for day in days}) >= 7
    assert sum(day.count for day in days) == sum(kinds.values())
    assert any(
        s.lines[0].quantity < 0 < s.lines[-1].quantity for s in world.account.data.sales.values()
    )
    unclean = [(d.location_id, d.day, d.differences) for d in days if not d.clean]
    assert unclean == []


# The contract's ledger test already runs on SQLite and PostgreSQL; these week-long runs
# are about the source, not the store, so they take SQLite only to keep the module quick.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@SQLITE_ONLY
def test_a_week_of_two_shops_swept_into_the_ledger_reconciles_to_zero(
    factory: sessionmaker[Session], traded: LightspeedWorld
) -> None:
    """A week of both shops' trading, swept, posts every sale and return once, in balanced
    books that reconcile with the source to zero on every shop's every day."""
    vault = Vault([new_key()])
    connection = set_up(factory, traded, vault)
    sweeper = Sweeper(factory, traded.clock, vault, transport=lambda _: traded.transport)
    report = sweeper.sweep(TENANT, connection.connection_id)
    assert report.records > 0
    again = sweeper.sweep(TENANT, connection.connection_id)
    assert again.records == 0
    post_and_reconcile(factory, traded)


@SQLITE_ONLY
def test_a_week_backfilled_into_the_ledger_reconciles_to_zero(
    factory: sessionmaker[Session], traded: LightspeedWorld
) -> None:
    """The same week read as history, day by day, posts the same and reconciles to zero."""
    vault = Vault([new_key()])
    connection = set_up(factory, traded, vault)
    backfills = Backfills(factory, ManualClock(traded.clock()))
    first = START.date()
    job = backfills.start(TENANT, "lightspeed_r", first, first + WEEK)
    client = traded.source().connect(connection, traded.transport)
    try:
        done = backfills.run(job, client)
    finally:
        client.close()
    assert done.state is BackfillState.DONE
    post_and_reconcile(factory, traded)


# -- polling only --------------------------------------------------------------------------


def test_polling_is_the_whole_story_and_any_delivery_is_refused(sample: LightspeedWorld) -> None:
    """R-Series has no sales webhooks: the source declares streams and history only, and a
    delivery claiming to come from it is refused as forged."""
    capabilities = LightspeedRSource.capabilities
    assert capabilities.webhooks is False
    assert capabilities.streams == ("sales", "customers", "items")
    assert capabilities.history is True
    assert DocumentKind.PAYOUT not in capabilities.kinds
    delivery = WebhookRequest("https://hooks.example/lightspeed", {}, b'{"saleID":"1"}')
    with pytest.raises(ForgedWebhookError):
        LightspeedRSource().verify(delivery, sample.connection())


# -- the leaky bucket ----------------------------------------------------------------------


@pytest.fixture
def paced() -> Iterator[LightspeedWorld]:
    """A retailer with R-Series' default bucket (60, dripping 1 a second) and a few hours of
    trading, answering through a transport that keeps every status."""
    with lightspeed_world(seed=11, bucket=Bucket()) as world:
        world.trade(START + timedelta(hours=5))
        world.transport.record = True
        yield world


def statuses(world: LightspeedWorld) -> Counter[int]:
    return Counter(status for _, status, _ in world.transport.answers)


def test_a_burst_of_reads_is_paced_and_never_meets_a_429(paced: LightspeedWorld) -> None:
    """Three bucketfuls of reads in a row wait for room as they go and never overflow it."""
    client = paced.source().connect(paced.connection(), paced.transport)
    began = paced.clock()
    try:
        for _ in range(180):
            client.api.get("Shop", "shop.list", {})
        budget = client.api.budget()
    finally:
        client.close()
    assert statuses(paced) == Counter({200: 180})
    assert budget.throttled == 0
    # 60 go at once, then the bucket's drip sets the pace: about a minute per 60 more.
    assert paced.clock() - began >= timedelta(seconds=110)


def test_a_level_left_by_another_worker_is_adopted_from_the_headers(
    paced: LightspeedWorld,
) -> None:
    """A worker that did not make the calls that filled the bucket reads its level from
    X-LS-API-Bucket-Level and waits for room instead of overflowing it."""
    first = paced.source().connect(paced.connection(), paced.transport)
    for _ in range(55):
        first.api.get("Shop", "shop.list", {})
    first.close()
    forget_budgets()  # another process: its own, empty count
    second = paced.source().connect(paced.connection(), paced.transport)
    try:
        for _ in range(30):
            second.api.get("Shop", "shop.list", {})
    finally:
        second.close()
    assert statuses(paced) == Counter({200: 85})


def test_a_429_is_waited_out_for_its_retry_after(paced: LightspeedWorld) -> None:
    """A 429 R-Series answers anyway pauses the account for its Retry-After, then the page
    is read."""
    paced.account.faults.arm("sale.list", Fault(FaultKind.RATE_LIMITED, retry_after=7))
    client = paced.source().connect(paced.connection(), paced.transport)
    began = paced.clock()
    try:
        page = client.fetch("sales", None)
        budget = client.api.budget()
    finally:
        client.close()
    assert page.records
    assert statuses(paced)[429] == 1
    assert budget.throttled == 1
    assert paced.clock() - began >= timedelta(seconds=7)


def test_a_wait_past_the_budget_goes_up_as_a_transient_error(paced: LightspeedWorld) -> None:
    """A Retry-After longer than a call may wait is the engine's to reschedule."""
    paced.account.faults.arm("sale.list", Fault(FaultKind.RATE_LIMITED, retry_after=600))
    client = paced.source().connect(paced.connection(), paced.transport)
    try:
        with pytest.raises(TransientError) as caught:
            client.fetch("sales", None)
    finally:
        client.close()
    assert caught.value.kind is ErrorKind.TRANSIENT
    assert caught.value.retry_after == 600
    assert caught.value.details["x-ls-api-bucket-level"].endswith("/60")


def test_a_429_without_retry_after_waits_for_the_bucket_to_drain() -> None:
    """Without Retry-After, the wait is what the reported level needs to drip away."""
    request = httpx.Request("GET", "https://api.lightspeedapp.com/API/V3/Account.json")
    headers = {"X-LS-API-Bucket-Level": "60/60", "X-LS-API-Drip-Rate": "2"}
    assert retry_after(httpx.Response(429, headers=headers, request=request)) == 0.5
    assert retry_after(httpx.Response(429, headers={"Retry-After": "3"}, request=request)) == 3
    assert retry_after(httpx.Response(429, request=request)) is None
    assert limits_for(60, 1).per_minute == 60
    assert limits_for(180, 3).per_minute == 180
    assert limits_for(60, 0.25).per_minute == 37


# -- tokens --------------------------------------------------------------------------------


@pytest.fixture
def fresh() -> Iterator[LightspeedWorld]:
    """A retailer of its own with a few hours of trading, for tests that change it."""
    with lightspeed_world(seed=13) as world:
        world.trade(START + timedelta(hours=4))
        yield world


def test_an_expired_access_token_is_refreshed_before_the_call(fresh: LightspeedWorld) -> None:
    """An hour-old access token is renewed with the refresh token first; the call goes
    through with the new one."""
    connection = fresh.connection()
    fresh.clock.advance(timedelta(hours=2))
    client = fresh.source().connect(connection, fresh.transport)
    try:
        page = client.fetch("customers", None)
        grant = client.api.grant
    finally:
        client.close()
    assert page.records
    assert grant.access_token != connection.credentials["access_token"]
    assert grant.refresh_token == connection.credentials["refresh_token"]
    assert grant.expires_at == fresh.clock() + timedelta(hours=1)


def test_a_refused_token_is_refreshed_once_and_the_call_repeated(fresh: LightspeedWorld) -> None:
    """A 401 for a token thought fresh is mended by one refresh."""
    fresh.account.faults.arm("customer.list", FaultKind.UNAUTHORIZED)
    client = fresh.source().connect(fresh.connection(), fresh.transport)
    try:
        assert client.fetch("customers", None).records
    finally:
        client.close()


def test_a_revoked_grant_asks_the_merchant_to_reconnect(fresh: LightspeedWorld) -> None:
    """When the refresh token is refused too, the error is auth and says to reconnect."""
    connection = fresh.connection()
    fresh.account.credentials.authority.revoke(connection.credentials["refresh_token"])
    client = fresh.source().connect(connection, fresh.transport)
    try:
        with pytest.raises(AuthError) as caught:
            client.fetch("sales", None)
    finally:
        client.close()
    assert caught.value.code == "invalid_grant"
    assert "Reconnect Lightspeed" in caught.value.user_message


def test_a_connection_without_tokens_is_an_auth_error_before_any_call(
    sample: LightspeedWorld,
) -> None:
    """No grant at all: nothing is asked of Lightspeed."""
    bare = replace(sample.connection(), credentials={})
    with pytest.raises(AuthError) as caught:
        LightspeedRSource().connect(bare, sample.transport)
    assert caught.value.code == "no_access_token"


# -- transport failures --------------------------------------------------------------------


def test_lost_and_cut_short_answers_are_asked_again(fresh: LightspeedWorld) -> None:
    """A dropped connection and a body cut in half are retried; httpx never leaks."""
    fresh.account.faults.arm("item.list", FaultKind.LOST_RESPONSE)
    fresh.account.faults.arm("item.list", FaultKind.MALFORMED)
    fresh.account.faults.arm("item.list", Fault(FaultKind.SERVER_ERROR, status=502))
    client = fresh.source().connect(fresh.connection(), fresh.transport)
    try:
        assert client.fetch("items", None).records
    finally:
        client.close()
    assert fresh.account.faults.pending() == 0


def test_requests_lightspeed_cannot_answer_and_unreadable_cursors_are_bugs(
    sample: LightspeedWorld,
) -> None:
    """A 4xx other than auth and rate, an unknown stream or a garbled cursor is salesync's
    bug, named as such."""
    client = sample.source().connect(sample.connection(), sample.transport)
    try:
        with pytest.raises(BugError) as caught:
            client.api.get("Sale", "sale.list", {"limit": "500"})
        assert "limit must be between 1 and 100" in caught.value.message
        with pytest.raises(BugError):
            client.fetch("payouts", None)
        with pytest.raises(BugError):
            client.fetch("sales", "{not a cursor")
    finally:
        client.close()


def test_the_account_is_asked_of_lightspeed_when_not_configured(sample: LightspeedWorld) -> None:
    """Without an account_id setting the client reads it from Account.json."""
    connection = without(sample.connection(), "account_id")
    client = sample.source().connect(connection, sample.transport)
    try:
        assert client.fetch("customers", None).records
        assert client.api.account_id == sample.account.account_id
    finally:
        client.close()


# -- sweeps and history --------------------------------------------------------------------


def test_the_shops_to_map_are_listed_with_their_time_zones(sample: LightspeedWorld) -> None:
    """The account's shops come with the ids the location mapping needs."""
    client = sample.source().connect(sample.connection(), sample.transport)
    try:
        shops = client.shops()
    finally:
        client.close()
    assert [(s.id, s.name, s.time_zone) for s in shops] == [
        (sample.shop_ids[0], "Harbour Street", "America/New_York"),
        (sample.shop_ids[1], "Riverside", "America/Chicago"),
    ]


def test_a_sweep_from_its_cursor_gives_only_what_changed(sample: LightspeedWorld) -> None:
    """After more trading, resuming at the cursor gives the new and changed sales only."""
    with lightspeed_world(seed=5) as world:
        world.trade(START + timedelta(hours=6))
        client = world.source().connect(world.connection(), world.transport)
        try:
            first, cursor = sweep_stream(client.fetch, "sales", None)
            world.trade(world.clock() + timedelta(hours=3))
            client.api.grant = Grant.of(world.connection().credentials)
            again, _ = sweep_stream(client.fetch, "sales", cursor)
        finally:
            client.close()
        changed_after = {
            str(s.id)
            for s in world.account.data.sales.values()
            if s.time_stamp > START + timedelta(hours=6)
        }
    assert first
    assert {json.loads(r.payload)["sale"]["saleID"] for r in again} == changed_after


def test_sweep_since_bounds_a_first_sweep_and_a_bad_one_is_a_problem(
    sample: LightspeedWorld,
) -> None:
    """``sweep_since`` starts a first sweep late; a value without an offset is refused."""
    since = START + timedelta(days=1)
    client = sample.source().connect(
        sample.connection(sweep_since=since.isoformat()), sample.transport
    )
    try:
        records, _ = sweep_stream(client.fetch, "sales", None)
    finally:
        client.close()
    stamps = [datetime.fromisoformat(json.loads(r.payload)["sale"]["timeStamp"]) for r in records]
    assert stamps
    assert min(stamps) > since
    with pytest.raises(ValidationError) as caught:
        LightspeedRSource().connect(sample.connection(sweep_since="yesterday"), sample.transport)
    assert [p.path for p in caught.value.problems] == ["sweep_since"]


def test_history_is_the_sales_completed_in_the_window_oldest_first(
    sample: LightspeedWorld,
) -> None:
    """A backfill window lists completed sales and returns by completeTime, oldest first."""
    start, end = START + timedelta(hours=8), START + timedelta(hours=20)
    client = sample.source().connect(sample.connection(), sample.transport)
    try:
        records = list(client.history(start, end))
    finally:
        client.close()
    done = [json.loads(r.payload)["sale"]["completeTime"] for r in records]
    assert done == sorted(done)
    expected = {
        str(s.id)
        for s in sample.account.data.sales.values()
        if s.completed and s.complete_time is not None and start <= s.complete_time < end
    }
    assert {json.loads(r.payload)["sale"]["saleID"] for r in records} == expected


# -- what the records say ------------------------------------------------------------------


@pytest.fixture(scope="module")
def documents(sample: LightspeedWorld) -> list[tuple[SourceRecord, Translated]]:
    """Everything the sample retailer's streams give, translated."""
    return translate_all(sample, sweep_all(sample))


def of_type(pairs: list[tuple[SourceRecord, Translated]], kind: type) -> list[Any]:
    return [t for _, t in pairs if isinstance(t, kind)]


def test_sales_carry_two_taxes_discounts_tips_and_several_tenders(
    documents: list[tuple[SourceRecord, Translated]], sample: LightspeedWorld
) -> None:
    """Sales state each shop's two taxes by name, line and whole-sale discounts, tips, and
    split payments, and add up to what R-Series charged."""
    sales = of_type(documents, Sale)
    taxes = {t.name for s in sales for t in s.taxes}
    assert {"NY State", "NYC", "IL State", "Chicago"} <= taxes
    discounts = {d.name for s in sales for li in s.lines for d in li.discounts}
    assert discounts == {"Line discount", "Sale discount"}
    assert any(s.tip for s in sales)
    assert any(len(s.payments) > 1 for s in sales)
    assert {p.tender for s in sales for p in s.payments} >= {"Cash", "Credit Card"}
    assert all(s.tax_mode is TaxMode.EXCLUSIVE for s in sales)
    for sale in sales:
        assert validate_sale(sale) == [], sale.external_id
        kept = sample.account.data.sales[int(sale.external_id)]
        if all(line.quantity > 0 for line in kept.lines):
            assert sale.grand_total.amount == kept.total + kept.tips
    assert {s.location_id for s in sales} == {loc.id for loc in LOCATIONS}


def test_a_return_is_a_refund_of_the_sale_its_lines_came_from(
    documents: list[tuple[SourceRecord, Translated]],
) -> None:
    """Negative lines naming their original line become a refund of that line's sale, in
    positive amounts, refunded to a tender, and valid against that sale."""
    sales = {s.id: s for s in of_type(documents, Sale)}
    refunds = of_type(documents, Refund)
    assert refunds
    for refund in refunds:
        sale = sales[refund.sale_id]
        assert validate_refund(refund, sale) == [], refund.external_id
        assert all(line.quantity > 0 and line.amount.amount > 0 for line in refund.lines)
        assert refund.paid == refund.computed_total


def test_an_exchange_is_a_refund_and_a_sale_paid_with_the_goods_given_back(
    documents: list[tuple[SourceRecord, Translated]],
) -> None:
    """One sale taking goods back and selling others gives a sale and a refund of the same
    Lightspeed sale; the exchange tender carries the returned value from one to the other."""
    by_sale: dict[str, list[Translated]] = {}
    for record, translated in documents:
        if record.record_type in ("sale", "sale_return") and not isinstance(translated, Skip):
            by_sale.setdefault(json.loads(record.payload)["sale"]["saleID"], []).append(translated)
    sales = {s.id: s for s in of_type(documents, Sale)}
    exchanges = [found for found in by_sale.values() if len(found) == 2]
    assert exchanges
    for sale, refund in exchanges:
        assert isinstance(sale, Sale)
        assert isinstance(refund, Refund)
        assert validate_sale(sale) == []
        assert validate_refund(refund, sales[refund.sale_id]) == []
        paid_in = sum(p.amount.amount for p in sale.payments if p.tender == EXCHANGE_TENDER)
        paid_out = sum(p.amount.amount for p in refund.payments if p.tender == EXCHANGE_TENDER)
        assert paid_in == paid_out > 0
        assert paid_in == min(sale.grand_total.amount, refund.amount.amount)


def test_open_voided_and_archived_records_are_skipped_with_their_reason(
    traded: LightspeedWorld, sample: LightspeedWorld
) -> None:
    """Parked sales wait, voided ones never count; each skip says why."""
    swept = translate_all(traded, sweep_all(traded, ("sales",)))
    reasons = [t.reason for _, t in swept if isinstance(t, Skip)]
    assert any("still open at the register" in r for r in reasons)
    assert any("was voided" in r for r in reasons)
    assert any("archived unfinished" in r for r in reasons)
    item = next(iter(sample.account.data.items.values()))
    archived = {"itemID": str(item.id), "description": "Old stock", "archived": "true"}
    context = sample.connection().context("lightspeed_r")
    skipped = LightspeedRSource().translate("item", json.dumps(archived), context)
    assert isinstance(skipped, Skip)
    assert "archived" in skipped.reason


def test_customers_and_items_are_listed_under_lightspeed_ids(
    documents: list[tuple[SourceRecord, Translated]],
) -> None:
    """Customers keep their contact's email and phone; items their SKU, category and price."""
    customers = of_type(documents, Customer)
    products = of_type(documents, Product)
    assert all(c.id.startswith("lightspeed_r:") for c in customers)
    assert any(c.email for c in customers)
    assert any(c.phone for c in customers)
    assert any(c.name == "Northwind Guides" for c in customers)
    assert {p.category for p in products} >= {"Apparel", "Footwear", "Books"}
    assert all(p.sku.startswith("HO-") and p.price.amount > 0 for p in products)
    assert any(not p.taxable for p in products)


def test_a_sale_of_one_line_reads_like_any_other(
    documents: list[tuple[SourceRecord, Translated]],
) -> None:
    """R-Series gives a relation of one as that object, not a list: it still reads."""
    singles = [
        t
        for r, t in documents
        if isinstance(t, Sale)
        and isinstance(json.loads(r.payload)["sale"]["SaleLines"]["SaleLine"], dict)
    ]
    assert singles
    assert all(len(s.lines) == 1 for s in singles)


def test_a_malformed_sale_names_every_problem_and_its_path(sample: LightspeedWorld) -> None:
    """Every unreadable field is named with its path, not only the first."""
    context = sample.connection().context("lightspeed_r")
    with pytest.raises(ValidationError) as caught:
        LightspeedRSource().translate("sale", malformed()[0].payload, context)
    paths = {p.path for p in caught.value.problems}
    assert {"sale.calcTotal", "sale.SaleLines[0].calcSubtotal"} <= paths


def test_returns_that_cannot_be_linked_are_refused_with_the_fix(sample: LightspeedWorld) -> None:
    """A return with no original line, or whose original sale was not read, is held with a
    problem saying what to do."""
    context = sample.connection().context("lightspeed_r")
    with pytest.raises(ValidationError) as caught:
        LightspeedRSource().translate("sale", malformed()[1].payload, context)
    assert [p.code for p in caught.value.problems] == ["unmapped_location", "return_without_sale"]
    with pytest.raises(ValidationError) as caught:
        LightspeedRSource().translate("sale", malformed()[2].payload, context)
    assert [p.path for p in caught.value.problems] == ["sale.shopID", "sale.completeTime"]
    line = {
        "saleLineID": "7",
        "unitQuantity": "-1",
        "unitPrice": "5.00",
        "calcSubtotal": "-5.00",
        "parentSaleLineID": "3",
    }
    sale = {
        "saleID": "77",
        "timeStamp": "2026-03-02T15:00:00+00:00",
        "completeTime": "2026-03-02T15:00:00+00:00",
        "completed": "true",
        "calcTotal": "-5.00",
        "shopID": sample.shop_ids[0],
        "SaleLines": {"SaleLine": line},
    }
    with pytest.raises(ValidationError) as caught:
        LightspeedRSource().translate("sale", json.dumps({"sale": sale}), context)
    assert [p.code for p in caught.value.problems] == ["original_sale_unknown"]
    assert "sweep sales again" in caught.value.problems[0].message


def test_an_unmapped_shop_falls_back_to_the_default_location(
    documents: list[tuple[SourceRecord, Translated]], sample: LightspeedWorld
) -> None:
    """With only a default location, every shop's sales are booked there."""
    connection = without(sample.connection(default_location="harbour"), "locations")
    record = next(r for r, t in documents if isinstance(t, Sale))
    sale = LightspeedRSource().translate(
        record.record_type, record.payload, connection.context("lightspeed_r")
    )
    assert isinstance(sale, Sale)
    assert sale.location_id == "harbour"


@SQLITE_ONLY
def test_a_return_read_before_its_sale_waits_and_resumes(
    factory: sessionmaker[Session], sample: LightspeedWorld
) -> None:
    """A refund taken in before the sale it reverses is parked, and goes on once the sale
    is in."""
    vault = Vault([new_key()])
    connection = set_up(factory, sample, vault)
    records = sweep_all(sample, ("sales",))
    context = sample.connection().context("lightspeed_r")
    source = LightspeedRSource()
    refund_record, refund = next(
        (r, t)
        for r in records
        if r.record_type == "sale"
        and isinstance(t := source.translate(r.record_type, r.payload, context), Refund)
    )
    sale_record = next(
        r
        for r in records
        if r.record_type == "sale"
        and isinstance(t := source.translate(r.record_type, r.payload, context), Sale)
        and t.id == refund.sale_id
    )
    engine = Engine(factory, ManualClock(sample.clock()))
    states: list[str] = []
    for record in (refund_record, sale_record):
        engine.receive(
            TENANT,
            "lightspeed_r",
            record.record_type,
            record.payload,
            event_id=record.event_id,
            connection_id=connection.connection_id,
        )
        engine.take_in(TENANT)
        with factory() as session:
            states = [
                r.state for r in session.scalars(select(InboxRecordRow).order_by(InboxRecordRow.id))
            ]
        if record is refund_record:
            assert states == [RecordState.PARKED.value]
    assert states == [RecordState.NORMALIZED.value] * 2


def sale_record(world: LightspeedWorld, sale_id: int) -> SourceRecord:
    """The sale as a sweep of the account reads it now."""
    return next(
        r
        for r in sweep_all(world, ("sales",))
        if r.record_type == "sale" and json.loads(r.payload)["sale"]["saleID"] == str(sale_id)
    )


def take_in_one_by_one(
    factory: sessionmaker[Session], world: LightspeedWorld, records: list[SourceRecord]
) -> tuple[Sale, int]:
    """Each record received and taken in before the next arrives; returns the sale stored
    and its revision."""
    connection = set_up(factory, world, Vault([new_key()]))
    engine = Engine(factory, ManualClock(world.clock()))
    one_by_one(engine, TENANT, "lightspeed_r", connection.connection_id, records)
    return stored_sale(factory, TENANT, translated_sale(world, records[0]).id)


def translated_sale(world: LightspeedWorld, record: SourceRecord) -> Sale:
    context = world.connection().context("lightspeed_r")
    sale = LightspeedRSource().translate(record.record_type, record.payload, context)
    assert isinstance(sale, Sale)
    return sale


def changed_sale(world: LightspeedWorld) -> tuple[Any, int]:
    """A completed sale that sold goods, and a customer it was not rung up for."""
    sale = next(
        s
        for s in world.account.data.sales.values()
        if s.completed and not s.voided and all(li.quantity > 0 for li in s.lines)
    )
    other = next(c for c in world.account.data.customers if c != sale.customer_id)
    return sale, other


@SQLITE_ONLY
def test_a_sale_read_before_a_change_and_taken_in_after_it_is_stale(
    factory: sessionmaker[Session], fresh: LightspeedWorld
) -> None:
    """A sale put on a customer's account after it was rung up, its first reading taken
    in after the changed one (a backfill read before the change, taken in after the
    sweep): the sale stays as changed, with no new revision."""
    sale, other = changed_sale(fresh)
    before = sale_record(fresh, sale.id)
    fresh.clock.advance(timedelta(minutes=5))
    fresh.activity.change_customer_of(sale, other)
    after = sale_record(fresh, sale.id)
    stored, revision = take_in_one_by_one(factory, fresh, [after, before])
    assert revision == 1
    assert stored == translated_sale(fresh, after) != translated_sale(fresh, before)


@SQLITE_ONLY
def test_a_change_undone_at_the_register_is_a_third_revision_equal_to_the_first(
    factory: sessionmaker[Session], fresh: LightspeedWorld
) -> None:
    """A sale put on another customer's account and then back, each reading taken in in
    turn: the undoing is a later change, so the sale becomes revision 3, equal to the
    first."""
    sale, other = changed_sale(fresh)
    readings = [sale_record(fresh, sale.id)]
    for customer in (other, sale.customer_id):
        fresh.clock.advance(timedelta(minutes=5))
        fresh.activity.change_customer_of(sale, customer)
        readings.append(sale_record(fresh, sale.id))
    stored, revision = take_in_one_by_one(factory, fresh, readings)
    assert revision == 3
    assert stored == translated_sale(fresh, readings[0]) != translated_sale(fresh, readings[1])


def test_the_source_reads_a_sandbox_served_over_real_http(traded: LightspeedWorld) -> None:
    """Over a socket, as against Lightspeed itself: the token refreshed at the token URL,
    a week of sales read page by page through their next links."""
    with serving(create_app(traded.account)) as url:
        connection = traded.connection(base_url=url, token_url=f"{url}/auth/oauth/token")
        expired = replace(
            connection,
            credentials={**connection.credentials, "expires_at": START.isoformat()},
        )
        client = traded.source().connect(expired)
        pages = 0
        try:
            cursor: str | None = None
            records: list[SourceRecord] = []
            while True:
                page = client.fetch("sales", cursor)
                records += page.records
                cursor, pages = page.cursor, pages + 1
                if not page.more:
                    break
            assert client.api.grant.access_token != connection.credentials["access_token"]
        finally:
            client.close()
    assert pages == -(-len(traded.account.data.sales) // 100)
    sale_ids = {json.loads(r.payload)["sale"]["saleID"] for r in records}
    assert sale_ids == {str(i) for i in traded.account.data.sales}
