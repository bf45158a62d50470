"""Calculated query cost, as the GraphQL Admin API charges it.

Scalars and enums cost 0, objects 1, a connection 2 plus its page size times what each node
costs, a mutation 10 (https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits).
The requested cost sizes connections by ``first``/``last`` before running; the actual cost
sizes them by what came back, and the difference is refunded to the bucket.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    is_abstract_type,
    is_leaf_type,
    value_from_ast_untyped,
)

MUTATION_COST = 10
MAX_QUERY_COST = 1000


class QueryCost:
    """Costs of one operation against the schema."""

    def __init__(
        self,
        schema: GraphQLSchema,
        operation: OperationDefinitionNode,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
    ) -> None:
        self._schema = schema
        self._operation = operation
        self._fragments = fragments
        self._variables = variables

    def requested(self) -> int:
        """The cost before running, with every connection full."""
        return self._root(None)

    def actual(self, data: Mapping[str, Any] | None) -> int:
        """The cost of what was returned."""
        return self._root(data or {})

    def _root(self, data: Mapping[str, Any] | None) -> int:
        if self._operation.operation.value == "mutation":
            return MUTATION_COST
        root = self._schema.query_type
        assert root is not None
        return self._selection(self._operation.selection_set, root, data)

    def _fields(self, selection_set: SelectionSetNode) -> list[FieldNode]:
        found: list[FieldNode] = []
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                found.append(selection)
            elif isinstance(selection, InlineFragmentNode):
                found.extend(self._fields(selection.selection_set))
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self._fragments.get(selection.name.value)
                if fragment is not None:
                    found.extend(self._fields(fragment.selection_set))
        return found

    def _field_type(self, parent: GraphQLNamedType, name: str) -> GraphQLNamedType | None:
        candidates: list[GraphQLNamedType] = [parent]
        if is_abstract_type(parent):
            candidates += list(self._schema.get_possible_types(parent))
        for candidate in candidates:
            fields = getattr(candidate, "fields", None)
            if fields is not None and name in fields:
                found: GraphQLNamedType = get_named_type(fields[name].type)
                return found
        return None

    def _argument(self, field: FieldNode, name: str) -> Any:
        for argument in field.arguments or ():
            if argument.name.value == name:
                return value_from_ast_untyped(argument.value, dict(self._variables))
        return None

    def _selection(
        self, selection_set: SelectionSetNode, parent: GraphQLNamedType, data: Any
    ) -> int:
        total = 0
        for field in self._fields(selection_set):
            name = field.name.value
            if name.startswith("__"):
                continue
            field_type = self._field_type(parent, name)
            if field_type is None or is_leaf_type(field_type) or field.selection_set is None:
                continue
            key = field.alias.value if field.alias else name
            value = None if data is None else (data.get(key) if isinstance(data, Mapping) else None)
            if data is not None and value is None:
                continue
            if field_type.name.endswith("Connection"):
                total += self._connection(field, field_type, value)
            elif isinstance(value, list):
                total += 1 + sum(self._selection(field.selection_set, field_type, v) for v in value)
            else:
                total += 1 + self._selection(field.selection_set, field_type, value)
        return total

    def _connection(self, field: FieldNode, connection: GraphQLNamedType, value: Any) -> int:
        assert field.selection_set is not None
        node_type = get_named_type(connection.fields["nodes"].type)  # type: ignore[attr-defined]
        assert node_type is not None
        selections: list[SelectionSetNode] = []
        for part in self._fields(field.selection_set):
            if part.name.value == "nodes" and part.selection_set is not None:
                selections.append(part.selection_set)
            elif part.name.value == "edges" and part.selection_set is not None:
                selections.extend(
                    inner.selection_set
                    for inner in self._fields(part.selection_set)
                    if inner.name.value == "node" and inner.selection_set is not None
                )

        def per_node(item: Any) -> int:
            costs = [1 + self._selection(s, node_type, item) for s in selections]
            return max(costs, default=1)

        if value is None:
            size = self._argument(field, "first") or self._argument(field, "last") or 0
            return 2 + int(size) * per_node(None)
        items = value.get("nodes")
        if items is None:
            items = [edge.get("node") for edge in value.get("edges") or []]
        return 2 + sum(per_node(item) for item in items if item is not None)
