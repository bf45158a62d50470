"""Mapping rules: from source values (SKU, category, tax, tender, location) to destination
accounts, items, tax codes and classes, versioned, and never guessing."""

from salesync.rules.conditions import Condition, ConditionError, FieldType, parse
from salesync.rules.customers import (
    CustomerDecision,
    CustomerIntent,
    CustomerPolicy,
    CustomerRule,
    ExistingCustomer,
    NamedCustomer,
    NewCustomer,
    customer_for,
    email_key,
)
from salesync.rules.mapping import (
    FIELDS,
    FixedAccounts,
    MappedPlacement,
    Mapping,
    Rule,
    Target,
    problems,
)
from salesync.rules.presets import retail_default, strict_retail
from salesync.rules.versions import (
    MappingDataError,
    MappingHistory,
    mapping_from_dict,
    mapping_to_dict,
)

__all__ = [
    "FIELDS",
    "Condition",
    "ConditionError",
    "CustomerDecision",
    "CustomerIntent",
    "CustomerPolicy",
    "CustomerRule",
    "ExistingCustomer",
    "FieldType",
    "FixedAccounts",
    "MappedPlacement",
    "Mapping",
    "MappingDataError",
    "MappingHistory",
    "NamedCustomer",
    "NewCustomer",
    "Rule",
    "Target",
    "customer_for",
    "email_key",
    "mapping_from_dict",
    "mapping_to_dict",
    "parse",
    "problems",
    "retail_default",
    "strict_retail",
]
