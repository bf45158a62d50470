"""The CRM in the engine's flow: customers at the next tick, sales at their sync window,
"N days after the sale" triggers firing exactly once, on their day, and never for
history."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from salesync.crm.actions import TriggerActions
from salesync.crm.catalog import Catalog
from salesync.crm.clients import Clients
from salesync.crm.destination import CrmSales
from salesync.crm.triggers import Triggers
from salesync.domain.documents import Sale
from salesync.domain.simulate import simulate
from salesync.engine.backfill import Backfills, SimulatedHistory
from salesync.engine.runner import InProcessRunner

from .world import BROOKLYN, MERCHANT, TENANT, Shop, a_sale, local, open_shop


def add_trigger(shop: Shop, name: str, action: str, days: int) -> None:
    with shop.db() as session, session.begin():
        Triggers(session, TENANT, shop.clock).add(name, action, days)


def test_a_client_created_in_the_pos_appears_in_the_crm_within_seconds(shop: Shop) -> None:
    """With the in-process runner ticking, a Square customer is a CRM client within
    seconds of its record arriving, long before any sales window."""
    runner = InProcessRunner(shop.engine, interval=0.05)
    runner.start()
    try:
        shop.customer("C1", "Ada", "Lovelace", email_address="ada@example.com")
        deadline, found = time.monotonic() + 5, None
        while found is None and time.monotonic() < deadline:
            with shop.db() as session:
                found = Clients(session, TENANT, shop.clock).find("ADA@example.com")
            time.sleep(0.05)
    finally:
        runner.stop()
    assert runner.last_error is None
    assert found is not None
    assert (found.name, found.customers) == ("Ada Lovelace", ("square:C1",))


def test_a_2pm_sale_syncs_at_6pm_and_fires_its_zero_day_trigger_then_once(shop: Shop) -> None:
    """A sale at 14:00 waits for the 18:00 window; its "0 days after" thank-you fires at
    18:00, when the sale arrives, and never again however often the engine runs."""
    add_trigger(shop, "Thank you", "thank_you", 0)
    ada = shop.customer("C1", "Ada", "Lovelace", email_address="ada@example.com")
    sale = a_sale("S-1", local(BROOKLYN, 2026, 11, 2, 14, 0), customer=ada)
    shop.tick_at(local(BROOKLYN, 2026, 11, 2, 14, 1))
    shop.sell(sale)
    for hour, minute in ((14, 2), (17, 59)):
        shop.tick_at(local(BROOKLYN, 2026, 11, 2, hour, minute))
        assert shop.crm_sale(sale) is None
        assert shop.firings() == []
    six_pm = local(BROOKLYN, 2026, 11, 2, 18, 0)
    shop.tick_at(six_pm)
    synced = shop.crm_sale(sale)
    assert synced is not None
    assert (synced.occurred_at, synced.synced_at) == (sale.occurred_at, six_pm)
    shop.engine.sync_now(TENANT)
    shop.tick_at(six_pm + timedelta(days=2))
    [firing] = shop.firings()
    assert (firing.state, firing.at, firing.document_id) == ("fired", six_pm, sale.id)
    [message] = shop.messages()
    assert (message.recipient, message.state) == ("ada@example.com", "pending")
    assert "Thank you" in message.subject


def test_a_three_day_trigger_fires_on_its_day_though_the_sale_synced_on_the_first(
    shop: Shop,
) -> None:
    """A sale of Monday 2 November syncs that evening; its "3 days after" follow-up fires
    at the start of Thursday 5 November in New York, not at sync and not before."""
    add_trigger(shop, "Follow up", "follow_up", 3)
    sale = a_sale("S-2", local(BROOKLYN, 2026, 11, 2, 10, 30), associate="Maya")
    shop.tick_at(local(BROOKLYN, 2026, 11, 2, 10, 31))
    shop.sell(sale)
    shop.tick_at(local(BROOKLYN, 2026, 11, 2, 18, 0))
    assert shop.crm_sale(sale) is not None
    for day, hour in ((3, 6), (4, 18), (4, 23)):
        shop.tick_at(local(BROOKLYN, 2026, 11, day, hour, 0))
        assert shop.firings() == [], f"fired early, on {day} November at {hour}:00"
    thursday = local(BROOKLYN, 2026, 11, 5, 0, 0)
    shop.tick_at(thursday)
    shop.tick_at(thursday + timedelta(hours=6))
    [firing] = shop.firings()
    assert (firing.state, firing.at, firing.due_at) == ("fired", thursday, thursday)
    [task] = shop.tasks()
    assert (task.assignee, task.document_id) == ("Maya", sale.id)


def test_a_trigger_due_beyond_the_horizon_is_skipped_and_recorded(shop: Shop) -> None:
    """A sale that reaches salesync five days late does not get a thank-you five days
    late: the firing is recorded as skipped, with the reason, and no message exists."""
    add_trigger(shop, "Thank you", "thank_you", 0)
    sale = a_sale("S-3", local(BROOKLYN, 2026, 10, 28, 12, 0))
    shop.sell(sale)
    shop.tick_at(local(BROOKLYN, 2026, 11, 2, 18, 0))
    [firing] = shop.firings()
    assert firing.state == "skipped"
    assert "beyond the 2 days horizon" in firing.reason
    assert shop.messages() == []


def test_a_historical_import_fires_no_triggers_and_never_delays_live_customers(
    factory: sessionmaker[Session],
) -> None:
    """Backfilled history reaches the CRM a throttled batch per tick, marked historical,
    and fires no trigger, even on the days its triggers would be due; a customer arriving
    meanwhile is in the CRM after the first tick."""
    shop = open_shop(factory, local(BROOKLYN, 2026, 11, 2, 9, 0), backfill_batch=5)
    add_trigger(shop, "Thank you", "thank_you", 0)
    add_trigger(shop, "Review", "review_request", 3)
    first = shop.clock().date() - timedelta(days=4)
    backfills = Backfills(shop.db, shop.clock, sleep=lambda _: None)
    job = backfills.start(TENANT, "simulator", first, first + timedelta(days=2))
    backfills.run(job, SimulatedHistory(MERCHANT, first, first + timedelta(days=2), seed=3))
    shop.customer("C9", "Grace", "Hopper", phone_number="+1 212 555 0199")
    shop.tick_at(shop.clock() + timedelta(seconds=1))
    with shop.db() as session:
        assert Clients(session, TENANT, shop.clock).find("+12125550199") is not None
        first_batch = CrmSales(session, TENANT, shop.clock).count(historical=True)
    assert first_batch == 5
    for _ in range(4 * 6):
        shop.tick_at(shop.clock() + timedelta(hours=6))
    with shop.db() as session:
        imported = CrmSales(session, TENANT, shop.clock).count(historical=True)
        live = CrmSales(session, TENANT, shop.clock).count(historical=False)
    sold = [d for d in simulate(MERCHANT, first, 3, seed=3) if isinstance(d, Sale)]
    assert (imported, live) == (len(sold), 0)
    assert shop.firings() == []
    assert shop.messages() == []


def test_a_manual_sale_reaches_the_crm_at_once_with_client_associate_and_location(
    shop: Shop,
) -> None:
    """A sale keyed in by hand (source ``manual``) is in the CRM at the next tick, not at
    the 18:00 window, linked to its client, associate and location."""
    ada = shop.customer("C1", "Ada", "Lovelace", email_address="ada@example.com")
    sale = a_sale("M-1", local(BROOKLYN, 2026, 11, 2, 10, 0), customer=ada, source="manual")
    shop.tick_at(local(BROOKLYN, 2026, 11, 2, 10, 0))
    shop.sell(sale)
    shop.tick_at(local(BROOKLYN, 2026, 11, 2, 10, 0, 2))
    synced = shop.crm_sale(sale)
    assert synced is not None
    assert (synced.location_id, synced.associate, synced.customer_id) == (
        "brooklyn",
        "Maya",
        "square:C1",
    )
    with shop.db() as session:
        clients = Clients(session, TENANT, shop.clock)
        client = clients.find("ada@example.com")
        assert client is not None
        assert clients.sales_of(client.id) == [sale.id]


def test_products_reach_the_crm_at_the_next_tick_and_their_changes_follow(shop: Shop) -> None:
    """A Square catalog variation is a CRM product after the next tick; a price change
    is copied at the tick after it arrives, between sales windows."""
    product = shop.variation("V1", "Wool scarf", "SCARF-1", 4500, "Accessories")
    shop.tick_at(local(BROOKLYN, 2026, 11, 2, 9, 1))
    shop.variation("V1", "Wool scarf", "SCARF-1", 3900, "Sale")
    shop.tick_at(local(BROOKLYN, 2026, 11, 2, 9, 2))
    with shop.db() as session:
        [copy] = Catalog(session, TENANT, shop.clock).all()
    assert (copy.product_id, copy.sku, copy.price_minor, copy.category) == (
        product,
        "SCARF-1",
        3900,
        "Sale",
    )
    assert copy.synced_at == local(BROOKLYN, 2026, 11, 2, 9, 2)


def test_deciding_a_trigger_twice_for_one_sale_records_one_firing(shop: Shop) -> None:
    """Two passes that both see a sale as due (two workers, a rerun after a crash) leave
    one firing and one message: the (trigger, sale) row is unique."""
    add_trigger(shop, "Thank you", "thank_you", 0)
    sale = a_sale("S-9", local(BROOKLYN, 2026, 11, 2, 7, 0))
    shop.sell(sale)
    shop.tick_at(local(BROOKLYN, 2026, 11, 2, 18, 0))
    with shop.db() as session, session.begin():
        act = TriggerActions(Clients(session, TENANT, shop.clock))
        triggers = Triggers(session, TENANT, shop.clock, act=act)
        entry = CrmSales(session, TENANT, shop.clock).get(sale.id)
        assert entry is not None
        again = triggers.on_delivery(entry, BROOKLYN)
    assert again == 0
    assert len(shop.firings()) == 1
    assert len(shop.messages()) == 1


def test_an_edit_of_a_synced_sale_reaches_the_crm_at_its_window_without_firing_again(
    shop: Shop,
) -> None:
    """A sale synced at 18:00 is corrected at 19:00 (a customer added, a new total): the
    CRM shows the correction at the 06:00 window, and its thank-you stays fired once."""
    add_trigger(shop, "Thank you", "thank_you", 0)
    ada = shop.customer("C1", "Ada", "Lovelace", email_address="ada@example.com")
    sale = a_sale("S-5", local(BROOKLYN, 2026, 11, 2, 14, 0))
    shop.sell(sale)
    shop.tick_at(local(BROOKLYN, 2026, 11, 2, 18, 0))
    shop.clock.set(local(BROOKLYN, 2026, 11, 2, 19, 0))
    shop.sell(a_sale("S-5", sale.occurred_at, customer=ada, amount="35.00"))
    shop.tick_at(local(BROOKLYN, 2026, 11, 2, 19, 1))
    before = shop.crm_sale(sale)
    assert before is not None
    assert (before.customer_id, before.total_minor, before.revision) == (None, 4000, 1)
    shop.tick_at(local(BROOKLYN, 2026, 11, 3, 6, 0))
    after = shop.crm_sale(sale)
    assert after is not None
    assert (after.customer_id, after.total_minor, after.revision) == (ada, 3500, 2)
    assert after.synced_at == local(BROOKLYN, 2026, 11, 2, 18, 0)
    assert len(shop.firings()) == 1
