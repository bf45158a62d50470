"""Lists as WooCommerce pages them: ``page`` and ``per_page`` (at most 100), the totals in
``X-WP-Total`` and ``X-WP-TotalPages``, and ``Link`` to the neighbouring pages
(https://woocommerce.github.io/woocommerce-rest-api-docs/#pagination); and the date
filters, read in the site's time zone unless ``dates_are_gmt`` says UTC."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from urllib.parse import urlencode

from salesync.sandbox.woocommerce import errors
from salesync.sandbox.woocommerce.store import Json, WooShop

MAX_PER_PAGE = 100


def integer(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise errors.invalid_param(name, f"{name} is not of type integer.") from None
    if not low <= value <= high:
        raise errors.invalid_param(
            name, f"{name} must be between {low} (inclusive) and {high} (inclusive)"
        )
    return value


def instant(shop: WooShop, query: Mapping[str, str], name: str) -> datetime | None:
    raw = query.get(name)
    if not raw:
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise errors.invalid_param(name, "Invalid date.") from None
    if parsed.tzinfo is None:
        gmt = query.get("dates_are_gmt", "").lower() in ("1", "true")
        parsed = parsed.replace(tzinfo=UTC if gmt else shop.zone)
    return parsed


def stamp_of(resource: Json, name: str) -> datetime | None:
    value = resource.get(f"date_{name}_gmt")
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


def ordered(
    items: list[Json], query: Mapping[str, str], keys: Mapping[str, Callable[[Json], object]]
) -> list[Json]:
    orderby = query.get("orderby", "date")
    if orderby not in keys:
        raise errors.invalid_param("orderby", f"orderby is not one of {', '.join(keys)}.")
    direction = query.get("order", "desc")
    if direction not in ("asc", "desc"):
        raise errors.invalid_param("order", "order is not one of asc, desc.")
    key = keys[orderby]
    return sorted(items, key=lambda i: (key(i), i["id"]), reverse=direction == "desc")


def paged(
    items: list[Json], query: Mapping[str, str], url: str
) -> tuple[list[Json], dict[str, str]]:
    """One page of ``items`` and the headers that describe the whole list."""
    per_page = integer(query, "per_page", 10, 1, MAX_PER_PAGE)
    page = integer(query, "page", 1, 1, 10**9)
    # ``offset`` skips that many items of the list, in place of ``page``
    # (https://woocommerce.github.io/woocommerce-rest-api-docs/#list-all-orders); as in
    # WP_Query, an offset of 0 leaves the page to decide. The totals describe the whole list
    # either way.
    offset = integer(query, "offset", 0, 0, 10**9) or (page - 1) * per_page
    total = len(items)
    pages = (total + per_page - 1) // per_page
    headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
    links = []
    rest = {k: v for k, v in query.items() if k not in ("page", "consumer_key", "consumer_secret")}
    if page > 1:
        links.append(f'<{url}?{urlencode({**rest, "page": page - 1})}>; rel="prev"')
    if page < pages:
        links.append(f'<{url}?{urlencode({**rest, "page": page + 1})}>; rel="next"')
    if links:
        headers["Link"] = ", ".join(links)
    return items[offset : offset + per_page], headers
