"""Writing a collection: PUT creates, POST creates or updates, many elements per request.

By default a request with any invalid element answers 400 ``ValidationException`` listing
only the failed elements, while the valid ones are still saved, so the caller cannot see
their ids (https://stackoverflow.com/questions/52706101,
https://github.com/XeroAPI/Xero-Java/issues/171). With ``summarizeErrors=false`` the answer
is 200 with every element, each marked ``StatusAttributeString`` OK or ERROR.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from typing import Any

from salesync.sandbox.xero import errors
from salesync.sandbox.xero.errors import ElementInvalid, Reply
from salesync.sandbox.xero.organisation import XeroOrganisation
from salesync.sandbox.xero.resources import Resource
from salesync.sandbox.xero.values import ms_date

PROVIDER_NAME = "salesync sandbox"

SaveOne = Callable[[dict[str, Any]], dict[str, Any]]


def envelope(org: XeroOrganisation, collection: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """The wrapper every Accounting API answer comes in."""
    return {
        "Id": str(uuid.uuid4()),
        "Status": "OK",
        "ProviderName": PROVIDER_NAME,
        "DateTimeUTC": ms_date(org.now()),
        collection: items,
    }


def elements_of(body: Any, collection: str) -> list[Any]:
    """The elements of a request body: ``{"Invoices": [...]}`` or one bare object."""
    if not isinstance(body, dict):
        raise errors.invalid_request("The request body must be a JSON object")
    if collection in body:
        found = body[collection]
        if not isinstance(found, list) or not found:
            raise errors.invalid_request(f"{collection} must be a non-empty list")
        return list(found)
    return [body]


def save(
    org: XeroOrganisation,
    resource: Resource,
    method: str,
    body: Any,
    *,
    summarize: bool,
    path_id: str | None = None,
) -> Reply:
    """Save every element of ``body`` in order; later elements see earlier ones."""
    build = resource.build
    if build is None:
        raise errors.problem(501, f"Writing {resource.collection} has not been implemented")
    elements = elements_of(body, resource.collection)
    if path_id is not None:
        if len(elements) != 1 or not isinstance(elements[0], dict):
            raise errors.invalid_request("Exactly one element may be posted to a single object")
        elements[0] = {**elements[0], resource.id_field: path_id}

    def save_one(element: dict[str, Any]) -> dict[str, Any]:
        existing = _existing(org, resource, method, element)
        return build(org, element, existing)

    return run(org, resource.collection, elements, save_one, summarize=summarize)


def run(
    org: XeroOrganisation,
    collection: str,
    elements: list[Any],
    save_one: SaveOne,
    *,
    summarize: bool,
) -> Reply:
    """Save each element with ``save_one`` and answer as ``summarizeErrors`` asks."""
    answers: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    for element in elements:
        try:
            if not isinstance(element, dict):
                raise ElementInvalid(["The element must be a JSON object"])
            saved = save_one(element)
            answers.append({**saved, "StatusAttributeString": "OK"} if not summarize else saved)
        except ElementInvalid as invalid:
            shown = copy.deepcopy(element) if isinstance(element, dict) else {}
            shown["ValidationErrors"] = [{"Message": m} for m in invalid.messages]
            shown["HasErrors"] = True
            failed.append(shown)
            answers.append({**shown, "StatusAttributeString": "ERROR"})
    if summarize and failed:
        return Reply(400, errors.validation_exception(failed))
    return Reply(200, envelope(org, collection, answers))


def _existing(
    org: XeroOrganisation, resource: Resource, method: str, element: dict[str, Any]
) -> dict[str, Any] | None:
    object_id = element.get(resource.id_field)
    if object_id:
        found = org.get(resource.collection, str(object_id))
        if found is None:
            raise ElementInvalid([f"{resource.singular} could not be found"])
        if method == "PUT":
            raise ElementInvalid(
                [f"{resource.singular} {object_id} already exists; PUT only creates, use POST"]
            )
        return found
    if method == "POST" and resource.match is not None:
        return resource.match(org, element)
    return None
