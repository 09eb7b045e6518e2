"""Chroma-style metadata filters as SQL conditions on a pgvector collection table.

``customer_id`` has a column of its own (indexed: every memory query filters on it); every other
key is matched inside the ``metadata`` JSONB by containment (``metadata @> '{"kind": "product"}'``),
which compares types as Chroma does: ``7`` matches ``7``, not ``"7"`` nor ``true``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Table, and_, not_, or_, true

CUSTOMER_ID = "customer_id"
_SCALARS = (str, int, float, bool)


def customer_column_value(metadata: dict[str, Any]) -> int | None:
    """The value the ``customer_id`` column holds for this metadata: an integer id, else NULL."""
    value = metadata.get(CUSTOMER_ID)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def where_clause(table: Table, where: dict[str, Any] | None) -> ColumnElement[bool]:
    """The SQL condition for a Chroma ``where`` filter (none: every row).

    Several keys in one dict are ANDed (Chroma asks for an explicit ``$and``; accepting both costs nothing).
    An operator or value this store does not understand is a ValueError naming it.
    """
    if not where:
        return true()
    conditions = []
    for key, value in where.items():
        if key == "$and":
            conditions.append(and_(true(), *(where_clause(table, part) for part in _parts(key, value))))
        elif key == "$or":
            conditions.append(or_(*(where_clause(table, part) for part in _parts(key, value))))
        elif key.startswith("$"):
            raise ValueError(f"unsupported vector filter operator {key!r}")
        elif isinstance(value, dict):
            conditions.append(_operator(table, key, value))
        else:
            conditions.append(_equals(table, key, value))
    return and_(true(), *conditions)


def _parts(operator: str, value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value or not all(isinstance(part, dict) for part in value):
        raise ValueError(f"{operator} takes a non-empty list of filters")
    return value


def _operator(table: Table, key: str, spec: dict[str, Any]) -> ColumnElement[bool]:
    if len(spec) != 1:
        raise ValueError(f"filter on {key!r} must hold exactly one operator, got {sorted(spec)}")
    operator, value = next(iter(spec.items()))
    if operator == "$eq":
        return _equals(table, key, value)
    if operator == "$ne":
        return not_(_equals(table, key, value))
    if operator in {"$in", "$nin"}:
        if not isinstance(value, list):
            raise ValueError(f"{operator} on {key!r} takes a list")
        matches = or_(*(_equals(table, key, item) for item in value)) if value else not_(true())
        return matches if operator == "$in" else not_(matches)
    raise ValueError(f"unsupported vector filter operator {operator!r} on {key!r}")


def _equals(table: Table, key: str, value: Any) -> ColumnElement[bool]:
    if not isinstance(value, _SCALARS):
        raise ValueError(f"filter value for {key!r} must be a string, number or boolean")
    if key == CUSTOMER_ID and customer_column_value({key: value}) is not None:
        return table.c.customer_id == value
    return table.c.metadata.contains({key: value})
