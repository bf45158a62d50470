"""The support API: Prometheus metrics behind an optional token, a tenant's tickets,
measures and notices behind its API token (never another tenant's), and the unsubscribe
page and one-click post the notices' List-Unsubscribe headers point to."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from hooksource import MERCHANT
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session, sessionmaker

from salesync.api import create_app
from salesync.clock import ManualClock
from salesync.connectors.capture import Exchange
from salesync.connectors.registry import SourceRegistry
from salesync.domain.documents import Tenant
from salesync.domain.errors import BugError, MappingError, SyncError
from salesync.engine.incidents import Failure, IncidentLog
from salesync.monitor.desk import TicketDesk
from salesync.monitor.notify import Contacts, Envelope, Letter, Mailer, MailSettings
from salesync.store.repositories import Tenants
from salesync.store.tables import ContactRow
from salesync.store.vault import Vault

METRICS_TOKEN = "scrape-4c1d"  # noqa: S105 - the token the test scraper sends
TICKETS = "/api/v1/tenants/demo/tickets"
OWNER = "owner@example.com"


@pytest.fixture
def other(db: sessionmaker[Session]) -> str:
    """A second tenant, ``other``."""
    with db() as session, session.begin():
        Tenants(session).add(Tenant(id="other", name="Other Co"))
    return "other"


@pytest.fixture
def api(
    db: sessionmaker[Session], clock: ManualClock, vault: Vault, registry: SourceRegistry
) -> Iterator[TestClient]:
    """The app with the support endpoints, metrics behind ``METRICS_TOKEN``."""
    app = create_app(db, clock, vault, registry=registry, metrics_token=METRICS_TOKEN)
    with TestClient(app, raise_server_exceptions=False) as running:
        yield running


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


Fail = Callable[..., int]


@pytest.fixture
def fail(db: sessionmaker[Session], clock: ManualClock) -> Fail:
    """``fail(error, tenant=..., subject=..., http=...)`` records a failure as the engine
    does and returns its ticket's id."""
    log = IncidentLog(clock)

    def record(
        error: SyncError,
        *,
        tenant: str = "demo",
        subject: str = "posting:1",
        documents: tuple[str, ...] = (),
        http: tuple[Exchange, ...] = (),
    ) -> int:
        with db() as session, session.begin():
            incident = log.record(
                session,
                tenant,
                Failure(
                    error=error,
                    stage="engine",
                    subject=subject,
                    failed_at=clock() - timedelta(seconds=4),
                    documents=documents,
                    location_id=MERCHANT.locations[0].id,
                    http=http,
                ),
            )
            assert incident.ticket_id is not None
            return incident.ticket_id

    return record


def unmapped(n: int) -> MappingError:
    return MappingError(
        f"no item is mapped for SKU 'SKU-{n}'",
        user_message=f"The product SKU-{n} has no item in your books.",
        code=f"unmapped_{n}",
        provider="qbo",
        operation="post:SalesReceipt",
    )


def test_metrics_want_the_metrics_token(api: TestClient, fail: Fail):
    """Without the metrics token (or with a wrong one) /metrics answers 401 in the API's
    error shape; with it, the support measures in Prometheus' text format."""
    fail(unmapped(1))
    for headers in ({}, bearer("wrong"), {"Authorization": METRICS_TOKEN}):
        refused = api.get("/metrics", headers=headers)
        assert refused.status_code == 401
        assert refused.json()["error"] == "unauthenticated"
        assert refused.headers["www-authenticate"] == "Bearer"
    response = api.get("/metrics", headers=bearer(METRICS_TOKEN))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    [open_tickets] = [
        s for s in families["salesync_tickets"].samples if s.labels["state"] == "open"
    ]
    assert open_tickets.value == 1
    assert families["salesync_support_time_to_ticket_seconds"].type == "summary"


def test_metrics_are_open_without_a_token(
    db: sessionmaker[Session], clock: ManualClock, vault: Vault, registry: SourceRegistry
):
    """An app given no metrics token serves /metrics to anyone (a scraper on a private
    network); two apps in one process keep separate registries."""
    first, second = (create_app(db, clock, vault, registry=registry) for _ in range(2))
    for app in (first, second):
        with TestClient(app) as client:
            response = client.get("/metrics")
            assert response.status_code == 200
            assert "salesync_support_window_seconds 2.592e+06" in response.text


def test_a_tenants_api_wants_its_own_token(
    api: TestClient, token: Callable[[str], str], other: str, fail: Fail
):
    """No token or an unknown one: 401; another tenant's token: 403; a tenant that does
    not exist: 404; all in the API's error shape."""
    fail(unmapped(1))
    for path in ("tickets", "tickets/1", "measures", "notices"):
        url = f"/api/v1/tenants/demo/{path}"
        assert api.get(url).json()["error"] == "unauthenticated"
        assert api.get(url, headers=bearer("ssk_nope")).status_code == 401
        wrong = api.get(url, headers=bearer(token(other)))
        assert (wrong.status_code, wrong.json()["error"]) == (403, "wrong_tenant")
        unknown = api.get(f"/api/v1/tenants/nobody/{path}", headers=bearer(token("demo")))
        assert (unknown.status_code, unknown.json()["error"]) == (404, "unknown_tenant")
        assert api.get(url, headers=bearer(token("demo"))).status_code == 200


def test_a_tenant_lists_only_its_own_tickets(
    api: TestClient, token: Callable[[str], str], other: str, fail: Fail
):
    """The list holds the tenant's tickets, newest first; the other tenant's token sees
    only its own, and asking for a ticket of the other tenant is a 404."""
    mine = [fail(unmapped(n)) for n in range(3)]
    theirs = fail(unmapped(0), tenant=other)
    listed = api.get(TICKETS, headers=bearer(token("demo"))).json()
    assert [t["id"] for t in listed["tickets"]] == mine[::-1]
    assert listed["next_cursor"] is None
    assert all(t["state"] == "open" for t in listed["tickets"])
    their_list = api.get(f"/api/v1/tenants/{other}/tickets", headers=bearer(token(other)))
    assert [t["id"] for t in their_list.json()["tickets"]] == [theirs]
    crossed = api.get(f"{TICKETS}/{theirs}", headers=bearer(token("demo")))
    assert (crossed.status_code, crossed.json()["error"]) == (404, "unknown_ticket")
    for missing in ("999", "abc"):
        gone = api.get(f"{TICKETS}/{missing}", headers=bearer(token("demo")))
        assert gone.status_code == 404
        assert set(gone.json()) == {"error", "message"}


def test_tickets_filter_and_page(
    api: TestClient,
    token: Callable[[str], str],
    fail: Fail,
    db: sessionmaker[Session],
    clock: ManualClock,
):
    """Filters by state (or ``active``), kind and provider (``salesync`` for failures of
    salesync itself); pages of ``limit`` follow the cursor with nothing twice or left out;
    a bad filter or limit is a 400 that says what is allowed."""
    mapping = [fail(unmapped(n)) for n in range(5)]
    bug = fail(BugError("the planner crashed"), subject="run:plan")
    TicketDesk(db, clock).close(mapping[0], "lead", "duplicate of another")
    auth = bearer(token("demo"))

    def ids(**params: str) -> list[int]:
        response = api.get(TICKETS, params=params, headers=auth)
        assert response.status_code == 200, response.text
        return [t["id"] for t in response.json()["tickets"]]

    assert ids(kind="bug") == [bug]
    assert ids(provider="salesync") == [bug]
    assert ids(provider="qbo") == mapping[::-1]
    assert ids(state="closed") == [mapping[0]]
    assert ids(state="active", kind="mapping") == mapping[:0:-1]
    seen: list[int] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        page = api.get(TICKETS, params=params, headers=auth).json()
        seen += [t["id"] for t in page["tickets"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == [bug, *mapping[::-1]]
    for params in (
        {"state": "lost"},
        {"kind": "weird"},
        {"limit": "0"},
        {"limit": "x"},
        {"limit": "500"},
        {"cursor": "-3"},
    ):
        refused = api.get(TICKETS, params=params, headers=auth)
        assert (refused.status_code, refused.json()["error"]) == (400, "bad_parameter")


def test_a_ticket_shows_its_documents_timeline_and_redacted_incidents(
    api: TestClient,
    token: Callable[[str], str],
    fail: Fail,
    db: sessionmaker[Session],
    clock: ManualClock,
):
    """The detail holds the ticket, its affected documents, its timeline (opened, then a
    comment) and its incidents newest first, their HTTP exchanges without the bearer
    token, the token in the address or the card number."""
    exchange = Exchange(
        method="POST",
        url="https://books.example/v3/salesreceipt?access_token=tok-9f8e7d6c5b4a",
        request_headers={"Authorization": "Bearer tok-9f8e7d6c5b4a"},
        request_body='{"memo": "paid by 4111 1111 1111 1111"}',
        status=400,
        response_headers={},
        response_body='{"Fault": "Invalid"}',
    )
    ticket = fail(unmapped(1), documents=("doc-1",), http=(exchange,))
    clock.advance(timedelta(minutes=5))
    fail(unmapped(1), subject="posting:2", documents=("doc-2",))
    TicketDesk(db, clock).comment(ticket, "ana", "Looking at the SKU list now.")
    response = api.get(f"{TICKETS}/{ticket}", headers=bearer(token("demo")))
    assert response.status_code == 200, response.text
    detail = response.json()
    assert detail["ticket"]["id"] == ticket
    assert detail["ticket"]["occurrences"] == 2
    assert detail["ticket"]["provider"] == "qbo"
    assert detail["documents"] == ["doc-1", "doc-2"]
    assert [e["event"] for e in detail["events"]] == ["opened", "comment"]
    assert detail["events"][1]["text"] == "Looking at the SKU list now."
    assert [i["subject"] for i in detail["incidents"]] == ["posting:2", "posting:1"]
    assert detail["incidents"][1]["http"][0]["status"] == 400
    assert "tok-9f8e7d6c5b4a" not in response.text
    assert "4111" not in response.text


def test_a_tenant_reads_its_own_measures(
    api: TestClient,
    token: Callable[[str], str],
    fail: Fail,
    other: str,
    db: sessionmaker[Session],
    clock: ManualClock,
):
    """The measures endpoint gives the tenant's times (per provider and kind, in
    seconds), tickets by state and SLA breaches, never counting another tenant's;
    ``days`` narrows the window."""
    first = fail(unmapped(1))
    fail(unmapped(1), tenant=other)
    clock.advance(timedelta(minutes=2))
    TicketDesk(db, clock).assign(first, "ana", actor="lead")
    response = api.get("/api/v1/tenants/demo/measures", headers=bearer(token("demo")))
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["tenant_id"] == "demo"
    [to_ticket] = data["times_seconds"]["ticket"]
    assert to_ticket == {
        "provider": "qbo",
        "kind": "mapping",
        "count": 1,
        "p50": 4.0,
        "p90": 4.0,
        "p99": 4.0,
        "max": 4.0,
    }
    assert data["times_seconds"]["assign"][0]["max"] == 120.0
    assert data["tickets"] == {"open": 0, "assigned": 1, "fixing": 0, "resolved": 0, "closed": 0}
    assert data["sla_breaches"] == {"respond": 0, "resolve": 0}
    clock.advance(timedelta(days=3))
    week = api.get(
        "/api/v1/tenants/demo/measures", params={"days": "1"}, headers=bearer(token("demo"))
    ).json()
    assert week["window_seconds"] == 86400
    assert week["times_seconds"]["ticket"] == []
    for days in ("0", "400", "soon"):
        refused = api.get(
            "/api/v1/tenants/demo/measures", params={"days": days}, headers=bearer(token("demo"))
        )
        assert refused.status_code == 400


def test_a_tenant_lists_its_notices_without_bodies(
    api: TestClient,
    token: Callable[[str], str],
    fail: Fail,
    other: str,
    db: sessionmaker[Session],
    clock: ManualClock,
):
    """A resolved ticket's notice to each contact is listed (state, reason, recipient,
    subject) without the letter, which carries the contact's unsubscribe link; the other
    tenant's notices are not."""
    with db() as session, session.begin():
        Contacts(session, "demo").add(OWNER, name="Owner")
        Contacts(session, other).add("boss@other.example")
    desk = TicketDesk(db, clock)
    for tenant in ("demo", other):
        ticket = fail(unmapped(1), tenant=tenant)
        desk.resolve(ticket, "ana", "The SKU is mapped now and the sale is in your books.")
    response = api.get("/api/v1/tenants/demo/notices", headers=bearer(token("demo")))
    assert response.status_code == 200, response.text
    [notice] = response.json()["notices"]
    assert notice["recipient"] == OWNER
    assert notice["reason"] == "resolved"
    assert notice["state"] == "pending"
    assert "body" not in notice
    with db() as session:
        secret = session.get(ContactRow, ("demo", OWNER))
        assert secret is not None
        assert secret.unsubscribe_token not in response.text
    assert "boss@other.example" not in response.text
    none = api.get(
        "/api/v1/tenants/demo/notices", params={"state": "sent"}, headers=bearer(token("demo"))
    )
    assert none.json() == {"notices": [], "next_cursor": None}


def unsubscribe_link(db: sessionmaker[Session], clock: ManualClock) -> str:
    """The path of the List-Unsubscribe link in a notice to ``OWNER``, as the mailer
    writes it."""
    settings = MailSettings(public_url="https://salesync.example")
    with db() as session, session.begin():
        contact = Contacts(session, "demo").add(OWNER)
    message = Mailer(settings).compose(
        Letter.of("Your sync", "Hello\n\nAll good."),
        Envelope(
            recipient=OWNER,
            message_id="<1@example.com>",
            date=clock(),
            unsubscribe_url=settings.link(f"unsubscribe/{contact.unsubscribe_token}"),
        ),
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    return urlsplit(str(message["List-Unsubscribe"]).strip("<>")).path


def opted_out(db: sessionmaker[Session]) -> bool:
    with db() as session:
        row = session.get(ContactRow, ("demo", OWNER))
        assert row is not None
        return row.opted_out


def test_the_unsubscribe_link_asks_before_opting_out(
    api: TestClient, db: sessionmaker[Session], clock: ManualClock
):
    """Opening the link shows who would stop hearing from salesync and changes nothing
    (mail scanners open links); confirming on the page opts the contact out."""
    path = unsubscribe_link(db, clock)
    page = api.get(path)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert OWNER in page.text
    assert html.escape(MERCHANT.tenant.name) in page.text
    assert '<form method="post">' in page.text
    assert not opted_out(db)
    done = api.post(path, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    assert "no more emails" in done.text
    assert opted_out(db)


def test_one_click_unsubscribe_from_the_mail_client(
    api: TestClient, db: sessionmaker[Session], clock: ManualClock
):
    """A mail client's RFC 8058 one-click post to the List-Unsubscribe address opts the
    contact out; posting again is harmless."""
    path = unsubscribe_link(db, clock)
    for _ in range(2):
        response = api.post(
            path,
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 200
        assert opted_out(db)


def test_an_unknown_unsubscribe_link_is_a_plain_404(api: TestClient):
    """A link salesync does not know answers 404 with a page in plain words, for a look
    and for a post."""
    for response in (api.get("/unsubscribe/nope"), api.post("/unsubscribe/nope")):
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        assert "not one salesync knows" in response.text
