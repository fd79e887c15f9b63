"""`Filters` as a Milvus boolean expression, with every value quoted here, safely.

Milvus 2.3 refuses filter templates (`{placeholder}` parameters), so values are written
into the expression as string literals. The parser reads a double-quoted literal the way
Go's `strconv.Unquote` does: `\\"`, `\\\\`, `\\n`, `\\t`, `\\uXXXX`..., and raw UTF-8 for
everything else. JSON's string syntax is a subset of that, so `json.dumps` writes a literal
that cannot end early or smuggle in an operator, whatever a person types as a council name.

Councils and committees match without regard to case (as the local index's COLLATE NOCASE
does): the collection keeps a lower-cased copy of each (`council_key`, `committee_key`).
Dates are day numbers (`date.toordinal()`); an undated passage has `date_start` = NO_START
and `date_end` = NO_END, so any date filter leaves it out, as SQL's NULL comparisons do.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from minutes.errors import QueryError
from minutes.records import Filters

NO_START = 2**62   # after every date: `date_start <= X` is false
NO_END = -1        # before every date: `date_end >= X` is false


def quote(value: str) -> str:
    """`value` as a Milvus string literal (double-quoted, escaped)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates cannot cross gRPC
        raise QueryError(f"the filter value {value!r} is not valid text") from None
    return json.dumps(value, ensure_ascii=False)


def fold(value: str | None) -> str:
    """The case-insensitive key of a council or committee name ("" when absent)."""
    return (value or "").lower()


def id_list(ids: Iterable[int], field: str = "id") -> str:
    """`id in [...]` for passage ids, or another int field's (ints only, so nothing to escape)."""
    return f"{field} in [" + ",".join(str(int(i)) for i in ids) + "]"


def visible(generation: int) -> str:
    """The rows generation `generation` holds: added by then, not yet retired (MVCC, schema.py)."""
    return f"added_in <= {int(generation)} and retired_in > {int(generation)}"


def filter_expression(filters: Filters) -> str:
    """The boolean expression that keeps exactly the passages `filters` let through ("" = all)."""
    clauses: list[str] = []
    if filters.council:
        clauses.append(f"council_key == {quote(fold(filters.council))}")
    if filters.committee:
        clauses.append(f"committee_key == {quote(fold(filters.committee))}")
    if filters.document:
        clauses.append(f"document_id == {quote(filters.document)}")
    if filters.date_from:  # a document matches when its date interval overlaps the filter
        clauses.append(f"date_end >= {filters.date_from.toordinal()}")
    if filters.date_to:
        clauses.append(f"date_start <= {filters.date_to.toordinal()}")
    if not filters.include_procedural:
        clauses.append("procedural == false")
    if filters.decisions_only:
        clauses.append('kind == "resolution"')
    return " and ".join(clauses)


def both(*expressions: str) -> str:
    """The conjunction of the non-empty `expressions`, each in parentheses."""
    parts = [e for e in expressions if e]
    if len(parts) == 1:
        return parts[0]
    return " and ".join(f"({e})" for e in parts)
