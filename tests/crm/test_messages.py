"""Messages from triggers go out over real SMTP (aiosmtpd), once, with the client's
unsubscribe link; a client who unsubscribes through that link gets nothing more."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from salesync.api import create_app
from salesync.api.tokens import ApiTokens
from salesync.crm.clients import Clients
from salesync.crm.mail import CrmMail
from salesync.monitor.notify.mailer import Mailer
from salesync.store.tables import CrmClientRow
from salesync.store.vault import Vault, new_key

from .test_crm_flow import add_trigger
from .world import BROOKLYN, TENANT, Shop, a_sale, local, open_shop
from monitor.smtp import SmtpServer, smtp_server


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def mailing(factory: sessionmaker[Session], smtp: SmtpServer) -> Shop:
    """The shop, its CRM sending through the test SMTP server."""
    start = local(BROOKLYN, 2026, 11, 2, 9, 0)
    shop = open_shop(factory, start)
    settings = smtp.settings()
    mail = CrmMail(factory, shop.clock, Mailer(settings), public_url=settings.public_url)
    shop.feed.mail = mail
    return shop


def test_a_thank_you_is_sent_once_over_smtp_with_the_unsubscribe_link(
    mailing: Shop, smtp: SmtpServer
) -> None:
    """The 0-day thank-you of a sale synced at 18:00 reaches Ada's inbox at that tick, with
    a one-click unsubscribe header; later ticks send nothing more."""
    shop = mailing
    add_trigger(shop, "Thank you", "thank_you", 0)
    ada = shop.customer("C1", "Ada", "Lovelace", email_address="ada@example.com")
    shop.sell(a_sale("S-1", local(BROOKLYN, 2026, 11, 2, 14, 0), customer=ada))
    shop.tick_at(local(BROOKLYN, 2026, 11, 2, 18, 0))
    shop.tick_at(local(BROOKLYN, 2026, 11, 3, 6, 0))
    [mail] = smtp.received
    assert mail.recipients == ("ada@example.com",)
    assert mail.subject == "Thank you for shopping with Harbor & Pine Goods"
    with shop.db() as session:
        client = Clients(session, TENANT, shop.clock).find("ada@example.com")
        assert client is not None
        token = session.get_one(CrmClientRow, client.id).unsubscribe_token
    link = f"https://app.salesync.test/unsubscribe/{token}"
    assert str(mail.message["List-Unsubscribe"]).strip() == f"<{link}>"
    assert "S-1" in mail.part("plain")
    assert link in mail.part("plain")
    [message] = shop.messages()
    assert (message.state, message.sent_at) == ("sent", local(BROOKLYN, 2026, 11, 2, 18, 0))


def test_a_client_who_unsubscribes_gets_no_more_messages(mailing: Shop, smtp: SmtpServer) -> None:
    """Ada follows the link in her first message; the review request three days later is
    recorded as suppressed and never reaches the server."""
    shop = mailing
    add_trigger(shop, "Thank you", "thank_you", 0)
    add_trigger(shop, "Review", "review_request", 3)
    ada = shop.customer("C1", "Ada", "Lovelace", email_address="ada@example.com")
    shop.sell(a_sale("S-1", local(BROOKLYN, 2026, 11, 2, 14, 0), customer=ada))
    shop.tick_at(local(BROOKLYN, 2026, 11, 2, 18, 0))
    [first] = smtp.received
    link = str(first.message["List-Unsubscribe"]).strip().strip("<>")
    app = create_app(shop.db, shop.clock, Vault([new_key()]), engine=shop.engine)
    with TestClient(app) as browser:
        path = link.removeprefix("https://app.salesync.test")
        assert "ada@example.com" in browser.get(path).text
        done = browser.post(path, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200, done.text
    shop.tick_at(local(BROOKLYN, 2026, 11, 5, 0, 0))
    assert len(smtp.received) == 1
    states = [(m.subject.split()[0], m.state) for m in shop.messages()]
    assert states == [("Thank", "sent"), ("How", "suppressed")]


def test_a_finished_repair_is_mailed_at_the_next_tick_not_at_a_sales_window(
    mailing: Shop, smtp: SmtpServer
) -> None:
    """The store marks Ada's watch repair complete at 10:00; she has the email from the
    CRM's pass a second later, hours before the 18:00 sales window, and marking it
    complete again sends nothing more. A repair for no client is refused, naming the
    field."""
    shop = mailing
    shop.customer("C1", "Ada", "Lovelace", email_address="ada@example.com")
    shop.tick_at(local(BROOKLYN, 2026, 11, 2, 9, 30))
    with shop.db() as session, session.begin():
        secret = ApiTokens(session, TENANT, shop.clock).issue("tests")[1]
        client = Clients(session, TENANT, shop.clock).find("ada@example.com")
        assert client is not None
    auth = {"Authorization": f"Bearer {secret}"}
    app = create_app(shop.db, shop.clock, Vault([new_key()]), engine=shop.engine)
    path = f"/api/v1/tenants/{TENANT}/crm/repairs/R-77"
    with TestClient(app) as api:
        made = api.put(
            path,
            json={"status": "received", "client_id": client.id, "description": "watch"},
            headers=auth,
        )
        assert made.status_code == 200, made.text
        shop.clock.set(local(BROOKLYN, 2026, 11, 2, 10, 0))
        done = api.put(path, json={"status": "complete"}, headers=auth)
        assert done.json()["message"] == "pending"
        shop.tick_at(local(BROOKLYN, 2026, 11, 2, 10, 0, 1))
        again = api.put(path, json={"status": "complete"}, headers=auth)
        assert again.json()["message"] is None
        orphan = api.put(f"{path}-X", json={"status": "received"}, headers=auth)
    assert orphan.status_code == 422
    assert [p["path"] for p in orphan.json()["problems"]] == ["client_id"]
    shop.tick_at(local(BROOKLYN, 2026, 11, 2, 10, 0, 2))
    [mail] = smtp.received
    assert mail.recipients == ("ada@example.com",)
    assert mail.subject == "Your watch is ready at Harbor & Pine Goods"
