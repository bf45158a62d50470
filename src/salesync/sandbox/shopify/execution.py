"""One GraphQL Admin API request: parse, cost, throttle, execute, refund, report.

Every costed answer carries ``extensions.cost`` with the requested and actual cost and the
bucket's ``throttleStatus``. A query the bucket cannot hold is answered with a ``THROTTLED``
error and no data, with HTTP 200, and ``actualQueryCost`` null; one over the single-query
limit gets ``MAX_COST_EXCEEDED`` (https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    execute_sync,
    parse,
    validate,
)

from salesync.sandbox.ratelimit import LeakyBucket
from salesync.sandbox.shopify.cost import MAX_QUERY_COST, QueryCost
from salesync.sandbox.shopify.credentials import AccessToken
from salesync.sandbox.shopify.graph import ShopifyGraph
from salesync.sandbox.shopify.schema import build_admin_schema
from salesync.sandbox.shopify.store import ShopifyStore

Json = dict[str, Any]
RATE_LIMITS_DOC = "https://shopify.dev/api/usage/rate-limits"


@dataclass(frozen=True, slots=True)
class PreparedQuery:
    """A parsed, validated operation and its requested cost."""

    document: DocumentNode
    operation: OperationDefinitionNode
    variables: dict[str, Any]
    cost: QueryCost
    requested: int

    @property
    def root_fields(self) -> list[str]:
        return [
            s.name.value
            for s in self.operation.selection_set.selections
            if isinstance(s, FieldNode)
        ]


class ShopifyGraphQL:
    """The GraphQL Admin endpoint of one shop."""

    def __init__(self, store: ShopifyStore) -> None:
        self.store = store
        self.schema: GraphQLSchema = build_admin_schema()

    def prepare(self, body: Any) -> PreparedQuery | Json:
        """The operation to run, or the error answer when it cannot run at all."""
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return {"errors": {"query": "Required parameter missing or invalid"}}
        try:
            document = parse(body["query"])
        except GraphQLError as error:
            return {"errors": [error.formatted]}
        problems = validate(self.schema, document)
        if problems:
            return {"errors": [p.formatted for p in problems]}
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        wanted = body.get("operationName")
        chosen = [o for o in operations if wanted is None or (o.name and o.name.value == wanted)]
        if len(chosen) != 1:
            message = "An operation name is required" if wanted is None else "Operation not found"
            return {"errors": [{"message": message}]}
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        variables = body.get("variables") or {}
        cost = QueryCost(self.schema, chosen[0], fragments, variables)
        return PreparedQuery(document, chosen[0], variables, cost, cost.requested())

    def run(self, prepared: PreparedQuery, token: AccessToken, api_version: str) -> Json:
        """Charge the bucket, execute, refund the unused cost; the full JSON answer."""
        bucket = self.store.graphql_buckets.get(token.client_id)
        if prepared.requested > MAX_QUERY_COST:
            return {
                "errors": [
                    {
                        "message": (
                            f"Query cost is {prepared.requested}, which exceeds the single "
                            f"query max cost limit ({MAX_QUERY_COST})."
                        ),
                        "extensions": {
                            "code": "MAX_COST_EXCEEDED",
                            "cost": prepared.requested,
                            "maxCost": MAX_QUERY_COST,
                            "documentation": RATE_LIMITS_DOC,
                        },
                    }
                ],
            }
        if not bucket.try_pour(prepared.requested):
            return {
                "errors": [
                    {
                        "message": "Throttled",
                        "extensions": {"code": "THROTTLED", "documentation": RATE_LIMITS_DOC},
                    }
                ],
                "extensions": self._cost(prepared.requested, None, bucket),
            }
        graph = ShopifyGraph(self.store, token, api_version)
        result = execute_sync(
            self.schema,
            prepared.document,
            root_value=graph.root() | graph.mutation_root(),
            variable_values=prepared.variables,
            operation_name=prepared.operation.name.value if prepared.operation.name else None,
        )
        actual = prepared.cost.actual(result.data)
        if actual < prepared.requested:
            bucket.refund(prepared.requested - actual)
        answer: Json = {"data": result.data}
        if result.errors:
            answer["errors"] = [e.formatted for e in result.errors]
        answer["extensions"] = self._cost(prepared.requested, actual, bucket)
        return answer

    def _cost(self, requested: int, actual: int | None, bucket: LeakyBucket) -> Json:
        return {
            "cost": {
                "requestedQueryCost": requested,
                "actualQueryCost": actual,
                "throttleStatus": {
                    "maximumAvailable": float(bucket.capacity),
                    "currentlyAvailable": int(bucket.available),
                    "restoreRate": float(bucket.rate),
                },
            }
        }
