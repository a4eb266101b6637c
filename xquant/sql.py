"""Several SQL statements in one round trip to the database.

A tick is bound by round trips, not by work: each statement costs a few hundred
microseconds of waiting on PostgreSQL however little it does. `batch_run` sends a list
of statements as one query on PostgreSQL (the driver binds parameters on the client, so
`;`-joined statements travel together and run as one implicit transaction outside an
atomic block), and one after another on other databases (embedded SQLite, where a
round trip is a function call).

Statements use positional `%s` placeholders only; literal percent signs are not allowed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection

Statement = tuple[str, Sequence[Any]]


@dataclass
class Result:
    rows: list[tuple] = field(default_factory=list)
    rowcount: int = -1


def batch_run(statements: Sequence[Statement]) -> list[Result]:
    """Run the statements in order; one Result (rows, rowcount) per statement."""
    if not statements:
        return []
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql" or len(statements) == 1:
            results = []
            for sql, params in statements:
                cursor.execute(sql, params)
                results.append(_result(cursor))
            return results
        cursor.execute(
            ";\n".join(sql for sql, _ in statements),
            [param for _, params in statements for param in params],
        )
        results = [_result(cursor)]
        while cursor.nextset():
            results.append(_result(cursor))
        if len(results) != len(statements):
            raise RuntimeError(f"{len(statements)} statements sent, {len(results)} results")
        return results


def _result(cursor) -> Result:
    return Result(
        rows=cursor.fetchall() if cursor.description is not None else [],
        rowcount=cursor.rowcount,
    )
