"""What each source offers a merchant: how its sales arrive, history, payouts and the
posting modes its sales can use, from the capabilities it declares."""

from __future__ import annotations

from datetime import timedelta

import pytest

from salesync.connectors.offer import Feeder, mode_refusal, offer, offers
from salesync.connectors.registry import SourceRegistry
from salesync.connectors.source import SourceCapabilities
from salesync.domain.documents import DocumentKind
from salesync.domain.planning import PostingMode

ALL = tuple(PostingMode)


def test_the_installed_sources_are_offered_with_what_they_can_do() -> None:
    """Shopify and Square send webhooks with a sweep, import history and report payouts,
    so all three modes; POS files arrive as uploads, without payouts."""
    found = {o.name: o for o in offers(SourceRegistry())}
    assert {"shopify", "square", "pos_file"} <= set(found)
    shopify, files = found["shopify"], found["pos_file"]
    assert (shopify.title, shopify.arrival, shopify.history) == (
        "Shopify",
        "webhooks, with a sweep",
        True,
    )
    assert shopify.posting_modes == ALL
    assert shopify.brings == ("sales", "refunds", "payouts", "customers", "products")
    assert (files.title, files.arrival, files.payouts) == (
        "POS export files",
        "uploaded files",
        False,
    )
    assert files.posting_modes == (PostingMode.PER_ORDER, PostingMode.DAILY_SUMMARY)
    assert any("export files you upload" in line for line in files.lines())
    assert not any("backfill" in line for line in files.lines())


class Polled:
    """A source with no webhooks and no payouts, read by sweeping only."""

    name = "polled_pos"
    capabilities = SourceCapabilities(
        kinds=frozenset({DocumentKind.SALE, DocumentKind.CUSTOMER}),
        streams=("sales",),
        replay_horizon=timedelta(hours=1),
    )


def test_a_polling_only_source_says_sales_appear_at_the_next_sweep() -> None:
    """No webhooks: the merchant is told sales come on a schedule, and that per-payout
    posting is not possible."""
    polled = offer(Polled())  # type: ignore[arg-type]
    assert (polled.title, polled.arrival) == ("Polled Pos", "polling only")
    lines = polled.lines()
    assert lines[0] == "Brings sales and customers."
    assert any("next sweep" in line for line in lines)
    assert any("cannot be fetched" in line for line in lines)
    assert any("not per payout" in line for line in lines)


@pytest.mark.parametrize(
    ("feeding", "mode", "refused"),
    [
        ([Feeder("Shop", "shopify")], PostingMode.PER_PAYOUT, None),
        ([Feeder("Till export", "pos_file")], PostingMode.DAILY_SUMMARY, None),
        ([Feeder("Till export", "pos_file")], PostingMode.PER_PAYOUT, "Till export"),
        (
            [Feeder("Shop", "shopify"), Feeder("Till export", "pos_file")],
            PostingMode.PER_PAYOUT,
            "Till export (POS export files) reports none",
        ),
        ([Feeder("Gone", "not_installed")], PostingMode.PER_PAYOUT, None),
        ([], PostingMode.PER_PAYOUT, None),
    ],
    ids=["payouts", "summary", "no payouts", "one of two", "not installed", "no feeder"],
)
def test_a_mode_is_refused_only_where_a_feeding_source_cannot_give_it(
    feeding: list[Feeder], mode: PostingMode, refused: str | None
) -> None:
    """Per payout needs every feeding source to report payouts; the refusal names the
    connections that do not and the modes left."""
    found = mode_refusal(feeding, mode, SourceRegistry())
    if refused is None:
        assert found is None
    else:
        assert found is not None
        assert refused in found
        assert "per order or as a daily summary" in found
