"""Several SQL statements in one round trip to the database.

A tick is bound by round trips, not by work: each statement costs a few hundred
microseconds of waiting on PostgreSQL however little it does. `batch_run` sends a list
of statements as one query on PostgreSQL (the driver binds parameters on the client, so
`;`-joined statements travel together and run as one implicit transaction outside an
atomic block), and one after another on other databases (embedded SQLite, where a
round trip is a function call).

On PostgreSQL a statement sent again on the same connection travels as `EXECUTE` of a
prepared statement (`PREPARE` rides along the second time it is seen): PostgreSQL parses
it once per connection instead of on every tick, which was a third of its time for the
tick's small statements. Parameters then take the types PostgreSQL infers for their
place (a bare `SELECT %s` becomes text): cast a parameter whose place says nothing.

Statements use positional `%s` placeholders only; literal percent signs are not allowed.
"""

from __future__ import annotations

import functools
import itertools
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from django.db import DEFAULT_DB_ALIAS, DataError, connection, connections, transaction
from psycopg import pq

logger = logging.getLogger(__name__)

Statement = tuple[str, Sequence[Any]]


@dataclass
class Result:
    rows: list[tuple] = field(default_factory=list)
    rowcount: int = -1


def batch_run(statements: Sequence[Statement]) -> list[Result]:
    """Run the statements in order; one Result (rows, rowcount) per statement."""
    if not statements:
        return []
    db = current_connection()
    with db.cursor() as cursor:
        if db.vendor != "postgresql":
            results = []
            for sql, params in statements:
                cursor.execute(sql, params)
                results.append(
                    Result(cursor.fetchall() if cursor.description else [], cursor.rowcount)
                )
            return results
        prepared = _prepared_statements(db)
        sent, answers, new = prepared.rewrite(statements)
        # Each statement is bound on its own: the driver keeps the parse of a short
        # statement, but parses a long batch (over 4 kB or 50 parameters) every time.
        with db.wrap_database_errors:
            bind = cursor.cursor.mogrify
            query = ";\n".join(bind(sql, params) if params else sql for sql, params in sent)
        # A failed batch may have run some of its PREPAREs: their names are never
        # reused (a fresh name each time), so forgetting them is enough.
        cursor.execute(query)
        # The results are read from the driver's cursor: Django's wrapper re-wraps every
        # attribute on each access, and `description` builds column objects each time.
        with db.wrap_database_errors:
            results = _results(cursor.cursor, answers)
        if len(results) != len(statements):
            raise RuntimeError(f"{len(statements)} statements sent, {len(results)} results")
        prepared.remember(new)
        return results


def _results(cursor, answers: list[bool]) -> list[Result]:
    """One Result per statement sent that answers (see _PreparedStatements.rewrite)."""
    results = []
    for answers_statement in answers:
        if answers_statement:
            returned_rows = cursor.pgresult.status == _TUPLES_OK
            results.append(Result(cursor.fetchall() if returned_rows else [], cursor.rowcount))
        if not cursor.nextset():
            break
    return results


def current_connection():
    """This thread's default database connection itself. `django.db.connection` is a
    proxy that looks the connection up on every attribute access, which the hot path
    does hundreds of times a tick."""
    return connections[DEFAULT_DB_ALIAS]


#: Statements PREPARE accepts (not BEGIN, COMMIT, SET, ...).
_PREPARABLE = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")
#: A statement is prepared the second time a connection sends it: one-off statements
#: (an IN list of unusual length, say) are not kept.
PREPARE_ON_SIGHT = 2
#: Prepared statements kept per connection; beyond that, statements are sent as text.
PREPARED_MAX = 300
_names = itertools.count(1)
_TUPLES_OK = pq.ExecStatus.TUPLES_OK


class _PreparedStatements:
    """The statements one PostgreSQL connection has prepared, by SQL text."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.sightings: dict[str, int] = {}

    def rewrite(
        self, statements: Sequence[Statement]
    ) -> tuple[list[Statement], list[bool], list[tuple[str, str]]]:
        """What to send for the statements: EXECUTE for the prepared, PREPARE + EXECUTE
        for those seen often enough, the rest as they are. Also, for each statement
        sent, whether it answers for one of `statements` (a PREPARE does not), and the
        (sql, name) pairs prepared by this batch."""
        sent: list[Statement] = []
        answers: list[bool] = []
        new: list[tuple[str, str]] = []
        for sql, params in statements:
            name = self.names.get(sql)
            if name is None and self._worth_preparing(sql):
                name = f"xq{next(_names)}"
                sent.append((f"PREPARE {name} AS {_numbered(sql)}", []))
                answers.append(False)
                new.append((sql, name))
            if name is None:
                sent.append((sql, params))
            else:
                arguments = f"({placeholders(params)})" if params else ""
                sent.append((f"EXECUTE {name}{arguments}", params))
            answers.append(True)
        return sent, answers, new

    def _worth_preparing(self, sql: str) -> bool:
        if len(self.names) >= PREPARED_MAX or not sql.lstrip().upper().startswith(_PREPARABLE):
            return False
        seen = self.sightings.get(sql, 0) + 1
        if seen < PREPARE_ON_SIGHT:
            if len(self.sightings) < 10 * PREPARED_MAX:
                self.sightings[sql] = seen
            return False
        self.sightings.pop(sql, None)
        return True

    def remember(self, new: list[tuple[str, str]]) -> None:
        self.names.update(new)


def _prepared_statements(db) -> _PreparedStatements:
    return session_state(db, "prepared statements", _PreparedStatements)


def session_state(db, name: str, create: Callable[[], Any] | None = None) -> Any:
    """What this process keeps for the database session behind the connection `db`
    (the statements it prepared, the channels it listens to), under `name`: made by
    `create` on first use, and dropped when Django reconnects, since the session's own
    state goes with the session. None when there is none and no `create` (or no
    session)."""
    raw = db.connection
    kept = getattr(db, "_xquant_session", None)
    if kept is None or kept[0] is not raw:
        kept = db._xquant_session = (raw, {})
    state = kept[1].get(name)
    if state is None and create is not None and raw is not None:
        state = kept[1][name] = create()
    return state


def placeholders(values: Sequence[Any]) -> str:
    """`%s, %s, ...`: one placeholder per value (an IN list, a VALUES row)."""
    return ", ".join(["%s"] * len(values))


def _numbered(sql: str) -> str:
    """`%s` placeholders as PREPARE's $1, $2, ..."""
    first, *rest = sql.split("%s")
    return first + "".join(f"${number}{part}" for number, part in enumerate(rest, 1))


def model_columns(model) -> str:
    """Every concrete column of the model, quoted, in field order (for model_from_row)."""
    quote = current_connection().ops.quote_name
    return ", ".join(quote(f.column) for f in model._meta.concrete_fields)


def model_from_row(model, row: Sequence[Any]):
    """A model instance from a row of model_columns, with the values the ORM would give
    (SQLite answers decimals as floats and timestamps naive)."""
    db = current_connection()
    attnames, converters = _row_readers(model, db.vendor)
    values = list(row)
    for index, column, convert in converters:
        values[index] = convert(values[index], column, db)
    return model.from_db(db.alias, attnames, values)


@functools.cache
def _row_readers(model, vendor: str) -> tuple[list[str], list[tuple[int, Any, Callable]]]:
    """The attribute names of a model's concrete fields and the database's converters
    for its columns (the same for every row: worked out once per model)."""
    fields = model._meta.concrete_fields
    converters = []
    for index, model_field in enumerate(fields):
        column = model_field.get_col(model._meta.db_table)
        for convert in connection.ops.get_db_converters(column) + column.get_db_converters(
            connection
        ):
            converters.append((index, column, convert))
    return [f.attname for f in fields], converters


def _column_values(instance, fields, *, add: bool) -> tuple[list[str], list[Any]]:
    """Column names and database values of `fields`, the way Model.save() computes them
    (auto_now timestamps set, JSON and decimals prepared for this database)."""
    db = current_connection()
    quote = db.ops.quote_name
    columns, values = [], []
    for model_field in fields:
        value = model_field.pre_save(instance, add)
        columns.append(quote(model_field.column))
        values.append(model_field.get_db_prep_save(value, db))
    return columns, values


def insert_statement(
    instance, *, returning: Sequence[str] = ("id",), ignore_conflicts: bool = False
) -> Statement:
    """An INSERT of a model instance's concrete fields (all but an unset auto primary
    key) that returns `returning`. With `ignore_conflicts`, a row that would break a
    unique constraint is not inserted and nothing is returned (instead of an error that
    aborts the transaction)."""
    meta = instance._meta
    fields = [
        f
        for f in meta.concrete_fields
        if not (f.primary_key and getattr(instance, f.attname) is None)
    ]
    columns, values = _column_values(instance, fields, add=True)
    returned = ", ".join(connection.ops.quote_name(meta.get_field(n).column) for n in returning)
    # Table and column names come from the model; values are parameters.
    table = connection.ops.quote_name(meta.db_table)
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders(values)})"  # noqa: S608
    if ignore_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    if returned:
        sql += f" RETURNING {returned}"
    return sql, values


def update_statement(instance, fields: Sequence[str], *, where: str = "", params=()) -> Statement:
    """An UPDATE of some fields of a saved model instance, by primary key, plus an
    optional extra condition (`where`, with its `params`)."""
    meta = instance._meta
    columns, values = _column_values(instance, [meta.get_field(n) for n in fields], add=False)
    assignments = ", ".join(f"{column} = %s" for column in columns)
    pk = connection.ops.quote_name(meta.pk.column)
    table = connection.ops.quote_name(meta.db_table)
    sql = f"UPDATE {table} SET {assignments} WHERE {pk} = %s"  # noqa: S608 - names from the model
    if where:
        sql += f" AND ({where})"
    return sql, [*values, instance.pk, *params]


def expecting_one_row(statement: Statement, returning: Sequence[str] = ()) -> Statement:
    """A conditional UPDATE (`statement`, without RETURNING) that fails its whole batch
    unless it changed a row, so that nothing of the batch is written (see
    row_was_not_there). It answers with 1 and, per `returning` column, the value
    written. PostgreSQL only (a data-modifying WITH)."""
    sql, params = statement
    columns = ", ".join(("1", *returning))
    picked = "".join(f", MAX({column})" for column in returning)
    return (
        # No row changed: 1 / 0 fails the batch. Nothing else of ours divides by a count.
        f"WITH changed AS ({sql} RETURNING {columns}) SELECT 1 / COUNT(*){picked} FROM changed",  # noqa: S608 - our statement, values are parameters
        params,
    )


def row_was_not_there(exc: BaseException) -> bool:
    """Whether a failed batch failed because a statement of `expecting_one_row` found
    its row changed (or gone)."""
    return isinstance(exc, DataError) and isinstance(exc.__cause__, psycopg.errors.DivisionByZero)


class BatchTransaction:
    """Batches run in one transaction (see `batch_transaction`)."""

    def __init__(self) -> None:
        self.began = False
        self.committed = False
        self.callbacks: list[Callable[[], object]] = []

    def run(self, statements: Sequence[Statement], *, commit: bool = False) -> list[Result]:
        """Run the statements in the transaction; with `commit`, commit it after them in
        the same round trip (the last batch)."""
        raise NotImplementedError

    def on_commit(self, callback: Callable[[], object]) -> None:
        """Call `callback` once the transaction has committed (never if it rolls back)."""
        raise NotImplementedError


class _OneTripTransaction(BatchTransaction):
    """BEGIN travels with the first batch, COMMIT with the last."""

    def run(self, statements: Sequence[Statement], *, commit: bool = False) -> list[Result]:
        begin = [] if self.began else [("BEGIN", [])]
        end = [("COMMIT", [])] if commit else []
        self.began = True  # from here on, a failure leaves a transaction to roll back
        results = batch_run([*begin, *statements, *end])
        self.committed = commit
        return results[len(begin) : len(results) - len(end)]

    def on_commit(self, callback: Callable[[], object]) -> None:
        self.callbacks.append(callback)


class _AtomicTransaction(BatchTransaction):
    def run(self, statements: Sequence[Statement], *, commit: bool = False) -> list[Result]:
        return batch_run(statements)

    def on_commit(self, callback: Callable[[], object]) -> None:
        transaction.on_commit(callback)


@contextmanager
def batch_transaction() -> Iterator[BatchTransaction]:
    """A transaction over a few batches, committed when the block ends (rolled back if it
    raises).

    `transaction.atomic()` costs two round trips of its own on PostgreSQL (the driver
    sends BEGIN and COMMIT alone); here BEGIN goes with the first batch and COMMIT with
    the one run with `commit=True`. That works only on PostgreSQL outside any atomic
    block, and inside the block nothing may open an atomic block nor use Django's
    on_commit (use the transaction's). Elsewhere (SQLite, an enclosing atomic block)
    this is an atomic block, a savepoint when nested, with the same interface."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        with transaction.atomic():
            yield _AtomicTransaction()
        return
    tx = _OneTripTransaction()
    try:
        yield tx
        if tx.began and not tx.committed:
            tx.run([], commit=True)
    except BaseException:
        if tx.began and not tx.committed:
            _rollback()
        raise
    for callback in tx.callbacks:
        callback()


def _rollback() -> None:
    try:
        batch_run([("ROLLBACK", [])])
    except Exception:  # the connection is gone: so is the transaction
        logger.warning("could not roll back a batch transaction", exc_info=True)
