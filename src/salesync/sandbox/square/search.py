"""SearchOrders and SearchCustomers: the query objects, their checks, filters and sort.

SearchOrders needs one to ten ``location_ids``; filters are ANDed; the sort defaults to
``CREATED_AT`` descending; a ``date_time_filter`` must be on the field the results are sorted
by, and sorting by ``CLOSED_AT`` needs a state filter of closed states
(https://developer.squareup.com/docs/orders-api/manage-orders/search-orders,
https://developer.squareup.com/reference/square/objects/SearchOrdersSort).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from salesync.sandbox.square import errors
from salesync.sandbox.square.orders import Order
from salesync.sandbox.square.pages import SortKey, sort_key
from salesync.sandbox.square.records import SquareCustomer

Json = dict[str, Any]
STATES = ("OPEN", "COMPLETED", "CANCELED", "DRAFT")
SORT_FIELDS = {"CREATED_AT": "created_at", "UPDATED_AT": "updated_at", "CLOSED_AT": "closed_at"}
MAX_LOCATIONS = 10


def _object(value: object, field: str) -> Json:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise errors.invalid("EXPECTED_OBJECT", f"Expected an object for '{field}'.", field)
    return value


def parse_time(value: object, field: str) -> datetime:
    try:
        instant = datetime.fromisoformat(str(value))
    except ValueError as error:
        raise errors.invalid("INVALID_TIME", f"Invalid RFC 3339 time: {value!r}.", field) from error
    if instant.tzinfo is None:
        raise errors.invalid("INVALID_TIME", f"The time {value!r} needs an offset.", field)
    return instant


@dataclass(frozen=True, slots=True)
class TimeRange:
    """``start_at`` inclusive, ``end_at`` exclusive; either may be open."""

    start_at: datetime | None
    end_at: datetime | None

    @classmethod
    def parse(cls, raw: object, field: str) -> TimeRange:
        body = _object(raw, field)
        start = body.get("start_at")
        end = body.get("end_at")
        found = cls(
            parse_time(start, f"{field}.start_at") if start else None,
            parse_time(end, f"{field}.end_at") if end else None,
        )
        if found.start_at and found.end_at and found.end_at < found.start_at:
            raise errors.invalid("INVALID_TIME_RANGE", "end_at is before start_at.", field)
        return found

    def holds(self, instant: datetime | None) -> bool:
        if instant is None:
            return False
        return (self.start_at is None or instant >= self.start_at) and (
            self.end_at is None or instant < self.end_at
        )


@dataclass(frozen=True, slots=True)
class OrdersQuery:
    """A checked SearchOrders request, ready to select and sort orders."""

    location_ids: tuple[str, ...]
    states: tuple[str, ...]
    customer_ids: tuple[str, ...]
    time_field: str | None
    time_range: TimeRange | None
    sort_field: str
    descending: bool

    @classmethod
    def parse(cls, body: Json, known_locations: Iterable[str]) -> OrdersQuery:
        locations = body.get("location_ids")
        if not locations:
            raise errors.missing("location_ids")
        if not isinstance(locations, list):
            raise errors.invalid("EXPECTED_ARRAY", "location_ids must be a list.", "location_ids")
        if len(locations) > MAX_LOCATIONS:
            raise errors.invalid(
                "ARRAY_LENGTH_TOO_LONG", "At most 10 location_ids.", "location_ids"
            )
        unknown = sorted(set(map(str, locations)) - set(known_locations))
        if unknown:
            raise errors.invalid(
                "INVALID_VALUE", f"Unknown location_ids: {', '.join(unknown)}.", "location_ids"
            )
        query = _object(body.get("query"), "query")
        filters = _object(query.get("filter"), "query.filter")
        sort = _object(query.get("sort"), "query.sort")
        states = tuple(_object(filters.get("state_filter"), "state_filter").get("states") or ())
        for state in states:
            if state not in STATES:
                raise errors.invalid(
                    "INVALID_ENUM_VALUE",
                    f"Unknown state {state!r}.",
                    "query.filter.state_filter.states",
                )
        customers = _object(filters.get("customer_filter"), "customer_filter")
        sort_field = str(sort.get("sort_field") or "CREATED_AT")
        if sort_field not in SORT_FIELDS:
            raise errors.invalid(
                "INVALID_ENUM_VALUE", f"Unknown sort_field {sort_field!r}.", "query.sort.sort_field"
            )
        order = str(sort.get("sort_order") or "DESC")
        if order not in ("ASC", "DESC"):
            raise errors.invalid(
                "INVALID_SORT_ORDER", "sort_order must be ASC or DESC.", "query.sort.sort_order"
            )
        time_field, time_range = _time_filter(filters, SORT_FIELDS[sort_field])
        if sort_field == "CLOSED_AT" and (not states or set(states) - {"COMPLETED", "CANCELED"}):
            raise errors.invalid(
                "INVALID_VALUE",
                "Sorting by CLOSED_AT needs a state_filter of COMPLETED or CANCELED states.",
                "query.filter.state_filter",
            )
        return cls(
            location_ids=tuple(map(str, locations)),
            states=states,
            customer_ids=tuple(customers.get("customer_ids") or ()),
            time_field=time_field,
            time_range=time_range,
            sort_field=SORT_FIELDS[sort_field],
            descending=order == "DESC",
        )

    def matches(self, order: Order) -> bool:
        if order.location_id not in self.location_ids:
            return False
        if self.states and order.state not in self.states:
            return False
        if self.customer_ids and order.customer_id not in self.customer_ids:
            return False
        if self.time_field and self.time_range:
            return self.time_range.holds(getattr(order, self.time_field))
        return self.sort_field != "closed_at" or order.closed_at is not None

    def key(self, order: Order) -> SortKey:
        instant: datetime = getattr(order, self.sort_field) or order.created_at
        return sort_key(instant, order.id)


def _time_filter(filters: Json, sort_field: str) -> tuple[str | None, TimeRange | None]:
    ranges = _object(filters.get("date_time_filter"), "query.filter.date_time_filter")
    chosen = [name for name in ("created_at", "updated_at", "closed_at") if ranges.get(name)]
    if not chosen:
        return None, None
    if chosen != [sort_field]:
        raise errors.invalid(
            "INVALID_VALUE",
            "The date_time_filter field must be the sort_field of the query.",
            "query.sort.sort_field",
        )
    field = chosen[0]
    return field, TimeRange.parse(ranges[field], f"query.filter.date_time_filter.{field}")


@dataclass(frozen=True, slots=True)
class CustomersQuery:
    """A checked SearchCustomers (or ListCustomers) request."""

    created: TimeRange | None
    updated: TimeRange | None
    email_exact: str | None
    email_fuzzy: str | None
    by_created: bool
    descending: bool

    @classmethod
    def parse(cls, body: Json) -> CustomersQuery:
        query = _object(body.get("query"), "query")
        filters = _object(query.get("filter"), "query.filter")
        sort = _object(query.get("sort"), "query.sort")
        email = _object(filters.get("email_address"), "query.filter.email_address")
        return cls.of(
            created=TimeRange.parse(filters["created_at"], "query.filter.created_at")
            if filters.get("created_at")
            else None,
            updated=TimeRange.parse(filters["updated_at"], "query.filter.updated_at")
            if filters.get("updated_at")
            else None,
            email_exact=email.get("exact"),
            email_fuzzy=email.get("fuzzy"),
            field=str(sort.get("field") or "DEFAULT"),
            order=str(sort.get("order") or "ASC"),
        )

    @classmethod
    def of(
        cls,
        *,
        created: TimeRange | None = None,
        updated: TimeRange | None = None,
        email_exact: str | None = None,
        email_fuzzy: str | None = None,
        field: str = "DEFAULT",
        order: str = "ASC",
    ) -> CustomersQuery:
        if field not in ("DEFAULT", "CREATED_AT"):
            raise errors.invalid("INVALID_ENUM_VALUE", f"Unknown sort field {field!r}.", "sort")
        if order not in ("ASC", "DESC"):
            raise errors.invalid("INVALID_SORT_ORDER", "Sort order must be ASC or DESC.", "sort")
        return cls(
            created, updated, email_exact, email_fuzzy, field == "CREATED_AT", order == "DESC"
        )

    def matches(self, customer: SquareCustomer) -> bool:
        email = customer.email_address.lower()
        checks: list[Callable[[], bool]] = [
            lambda: self.created is None or self.created.holds(customer.created_at),
            lambda: self.updated is None or self.updated.holds(customer.updated_at),
            lambda: self.email_exact is None or email == self.email_exact.lower(),
            lambda: self.email_fuzzy is None or self.email_fuzzy.lower() in email,
        ]
        return all(check() for check in checks)

    def key(self, customer: SquareCustomer) -> SortKey:
        if self.by_created:
            return sort_key(customer.created_at, customer.id)
        # DEFAULT is alphabetical by name
        # (https://developer.squareup.com/reference/square/enums/CustomerSortField).
        name = f"{customer.given_name} {customer.family_name}".lower()
        return name, customer.id
