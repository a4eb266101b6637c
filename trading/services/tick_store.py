"""The statements every tick runs, in plain SQL (only "%s" placeholders and constant
column names are ever formatted into them).

A tick runs a dozen of these for every symbol, several hundred times a second on a busy
desk. Building a query through the ORM costs about 0.7 ms of CPU each (measured: 0.8 ms
per ORM round trip against 0.1 ms for the same statement here), which would be most of
the tick's budget, so the per-tick bookkeeping lives here as SQL that PostgreSQL and
SQLite (3.35+: RETURNING, ON CONFLICT) both run, sent in two batches per tick
(`tick_view` before the strategies run; `tick_save_statements` after, in one batch with
the tick's new orders) rather than one by one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db import connection

from trading.models import (
    OPEN_STATUSES,
    Order,
    Position,
    StrategyConfig,
    StrategyStatus,
    TraderHeartbeat,
)
from xquant.sql import (
    Result,
    Statement,
    batch_run,
    current_connection,
    model_columns,
    model_from_row,
    placeholders,
)


def db_value(model, field: str, value: Any) -> Any:
    """The value as the model field stores it on this database (jsonb, naive UTC text
    on SQLite, ...)."""
    return model._meta.get_field(field).get_db_prep_value(value, current_connection())


def db_decimal(value: Any) -> Decimal | None:
    """A numeric column read by plain SQL, as the Decimal the column holds.

    SQLite (embedded mode) answers with a float: Decimal(0.1) would be
    0.1000000000000000055…, which then leaks into strategy states and positions and
    breaks exact comparisons (a TWAP never "finished"). The float's shortest repr is the
    decimal that was stored. PostgreSQL already answers with Decimals."""
    if value is None or isinstance(value, Decimal):
        return value
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


_OPEN = sorted(OPEN_STATUSES)


@dataclass(frozen=True)
class Working:
    """One of the symbol's open orders as the tick read it: what following it on the
    exchange looks at, and the whole row for when something changed."""

    pk: int
    client_order_id: str
    filled_quantity: Decimal
    row: tuple

    def order(self) -> Order:
        return model_from_row(Order, self.row)


_ORDER_COLUMNS = model_columns(Order)
_ORDER_FIELDS = [f.attname for f in Order._meta.concrete_fields]
_ID, _CID, _FILLED = (
    _ORDER_FIELDS.index("id"),
    _ORDER_FIELDS.index("client_order_id"),
    _ORDER_FIELDS.index("filled_quantity"),
)


def _working_statement(*, exchange: str, symbol: str) -> Statement:
    return (
        f"SELECT {_ORDER_COLUMNS} FROM trading_order "
        f"WHERE exchange = %s AND symbol = %s AND status IN ({placeholders(_OPEN)}) ORDER BY id",
        [exchange, symbol, *_OPEN],
    )


def _working(rows: list[tuple]) -> list[Working]:
    return [Working(row[_ID], row[_CID], db_decimal(row[_FILLED]), row) for row in rows]


def working_orders(*, exchange: str, symbol: str) -> list[Working]:
    """The symbol's open orders."""
    (result,) = batch_run([_working_statement(exchange=exchange, symbol=symbol)])
    return _working(result.rows)


def _mark_statements(
    *, exchange: str, symbol: str, mark_price: Decimal, now: datetime
) -> list[Statement]:
    """Mark every open book of the symbol (strategies' and account) to the price; the
    second statement returns the open account positions."""
    mark = db_value(Position, "mark_price", mark_price)
    marked_at = db_value(Position, "marked_at", now)
    params = [mark, marked_at, mark, exchange, symbol]
    return [
        (
            "UPDATE trading_strategyposition SET mark_price = %s, marked_at = %s, "
            "unrealized_pnl = quantity * (%s - entry_price) "
            "WHERE exchange = %s AND symbol = %s AND quantity <> 0",
            params,
        ),
        (
            "UPDATE trading_position SET mark_price = %s, marked_at = %s, "
            "unrealized_pnl = quantity * (%s - entry_price) "
            "WHERE exchange = %s AND symbol = %s AND quantity <> 0 "
            "RETURNING id, position_side, quantity, entry_price, realized_pnl, fees_paid, unrealized_pnl",
            params,
        ),
    ]


def _marks_durability() -> list[Statement]:
    """Marks are derived (position and mid, recomputed every tick): their commit need
    not wait for the disk, which spares a quiet tick a WAL flush. Only for the batch's
    own transaction, never for one the caller holds open (it may carry fills)."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return []
    return [("SET LOCAL synchronous_commit = off", [])]


def _marked_positions(
    rows: list[tuple], *, exchange: str, symbol: str, mark_price: Decimal, now: datetime
) -> list[Position]:
    decimal = db_decimal
    return [
        Position(
            id=pk,
            exchange=exchange,
            symbol=symbol,
            position_side=side,
            quantity=decimal(quantity),
            entry_price=decimal(entry),
            realized_pnl=decimal(realized),
            fees_paid=decimal(fees),
            unrealized_pnl=decimal(unrealized),
            mark_price=mark_price,
            marked_at=now,
        )
        for pk, side, quantity, entry, realized, fees, unrealized in rows
    ]


def db_aware(value: Any) -> Any:
    """A timestamp column read by plain SQL, as an aware datetime (SQLite answers with
    naive UTC)."""
    return (
        value.replace(tzinfo=UTC) if isinstance(value, datetime) and value.tzinfo is None else value
    )


_VERSIONS_SQL = (
    "SELECT id, updated_at, state_version FROM trading_strategyconfig "
    "WHERE symbol = %s AND is_active AND status = %s ORDER BY name"
)
# Orders with news for the symbol's active strategies, oldest first.
_NEWS_SQL = (
    "SELECT id, strategy_id, intent_key, side, status, filled_quantity, average_price, "
    "error_code FROM trading_order WHERE strategy_update_pending AND strategy_id IN ("
    "SELECT id FROM trading_strategyconfig WHERE symbol = %s AND is_active AND status = %s) "
    "ORDER BY id"
)

#: (id, updated_at, state_version) of an active strategy: enough to tell whether an
#: instance kept in memory is still current.
Version = tuple[int, datetime, int]
#: (order id, strategy id, intent key, side, status, filled quantity, average price,
#: error code).
News = tuple[int, int, str, str, str, Decimal, Decimal | None, str]


def _versions(rows: list[tuple]) -> list[Version]:
    return [(pk, db_aware(updated), version) for pk, updated, version in rows]


def _news(rows: list[tuple]) -> list[News]:
    return [
        (pk, sid, key, side, status, db_decimal(filled), db_decimal(average), code or "")
        for pk, sid, key, side, status, filled, average, code in rows
    ]


def active_strategy_versions(*, symbol: str) -> list[Version]:
    """The symbol's active, healthy strategies, in name order."""
    (result,) = batch_run([(_VERSIONS_SQL, [symbol, StrategyStatus.OK])])
    return _versions(result.rows)


def order_news(*, symbol: str) -> list[News]:
    """Orders with news for the symbol's active strategies, oldest first."""
    (result,) = batch_run([(_NEWS_SQL, [symbol, StrategyStatus.OK])])
    return _news(result.rows)


@dataclass
class TickView:
    #: Open account positions of the symbol, just marked.
    marked: list[Position]
    versions: list[Version]
    news: list[News]
    #: The symbol's open orders, for following them on the exchange.
    working: list[Working]
    #: Results of the statements asked `also`.
    also: list[Result]


def tick_view(
    *,
    exchange: str,
    symbol: str,
    mark_price: Decimal,
    now: datetime,
    also: Sequence[Statement] = (),
) -> TickView:
    """Mark the symbol's books to the price and read what its strategies need and its
    open orders, and run `also` after them: one round trip."""
    return TickViewRead(
        exchange=exchange, symbol=symbol, mark_price=mark_price, now=now, also=also
    ).read()


@dataclass
class TickViewRead:
    """A tick view's statements, to send with something else (the last write of an
    order sync, say: in its transaction, which then commits the marks too), and the
    view from their results."""

    exchange: str
    symbol: str
    mark_price: Decimal
    now: datetime
    also: Sequence[Statement] = ()

    @property
    def statements(self) -> list[Statement]:
        active = [self.symbol, StrategyStatus.OK]
        return [
            *_mark_statements(
                exchange=self.exchange, symbol=self.symbol, mark_price=self.mark_price, now=self.now
            ),
            (_VERSIONS_SQL, active),
            (_NEWS_SQL, active),
            _working_statement(exchange=self.exchange, symbol=self.symbol),
            *self.also,
        ]

    def read(self) -> TickView:
        """The view, read alone."""
        statements = self.statements
        results = batch_run([*_marks_durability(), *statements])
        return self.view(results[len(results) - len(statements) :])

    def view(self, results: list[Result]) -> TickView:
        also_from = len(results) - len(self.also)
        _, marked, versions, news, working = results[:also_from]
        return TickView(
            marked=_marked_positions(
                marked.rows,
                exchange=self.exchange,
                symbol=self.symbol,
                mark_price=self.mark_price,
                now=self.now,
            ),
            versions=_versions(versions.rows),
            news=_news(news.rows),
            working=_working(working.rows),
            also=results[also_from:],
        )


def strategies_load(*, ids: list[int]) -> dict[int, StrategyConfig]:
    """Full configs (params and state decoded), as model instances."""
    if not ids:
        return {}
    (result,) = batch_run(
        [
            (
                f"SELECT {model_columns(StrategyConfig)} FROM trading_strategyconfig "
                f"WHERE id IN ({placeholders(ids)})",
                ids,
            )
        ]
    )
    configs = [model_from_row(StrategyConfig, row) for row in result.rows]
    return {config.pk: config for config in configs}


def _news_consumed(fed: list[tuple[int, str, Decimal]]) -> list[Statement]:
    """Clear the news flag of orders whose news was fed, unless they moved on since."""
    return [
        (
            "UPDATE trading_order SET strategy_update_pending = %s "
            "WHERE id = %s AND status = %s AND filled_quantity = %s",
            [False, pk, status, filled],
        )
        for pk, status, filled in fed
    ]


def _states(states: list[tuple[int, dict, int]], now: datetime) -> list[Statement]:
    """(config id, state, new version) for each strategy whose state changed: one
    statement on PostgreSQL (each statement has a cost of its own on the server)."""
    updated_at = db_value(StrategyConfig, "state_updated_at", now)
    if current_connection().vendor == "postgresql" and len(states) > 1:
        rows = ", ".join(["(%s::bigint, %s::jsonb, %s::integer)"] * len(states))
        params = [
            value
            for pk, state, version in states
            for value in (pk, db_value(StrategyConfig, "state", state), version)
        ]
        return [
            (
                "UPDATE trading_strategyconfig AS c SET state = v.state, "
                "state_version = v.version, state_updated_at = %s "
                f"FROM (VALUES {rows}) AS v (id, state, version) WHERE c.id = v.id",
                [updated_at, *params],
            )
        ]
    return [
        (
            "UPDATE trading_strategyconfig SET state = %s, state_version = %s, state_updated_at = %s "
            "WHERE id = %s",
            [db_value(StrategyConfig, "state", state), version, updated_at, pk],
        )
        for pk, state, version in states
    ]


@dataclass(frozen=True)
class Heartbeat:
    symbol: str
    now: datetime
    tick_ms: Decimal
    runner: str
    mid: Decimal | None
    error: str = ""


def _heartbeat(beat: Heartbeat) -> Statement:
    """Count the tick and remember when, by whom, at what price (and the error, if any)."""
    return (
        "INSERT INTO trading_traderheartbeat "
        "(symbol, last_tick_at, last_tick_ms, last_mid, tick_count, runner, last_error, last_error_at) "
        "VALUES (%s, %s, %s, %s, 1, %s, %s, %s) "
        "ON CONFLICT (symbol) DO UPDATE SET last_tick_at = excluded.last_tick_at, "
        "last_tick_ms = excluded.last_tick_ms, runner = excluded.runner, "
        "tick_count = trading_traderheartbeat.tick_count + 1, "
        "last_mid = COALESCE(excluded.last_mid, trading_traderheartbeat.last_mid), "
        "last_error = CASE WHEN excluded.last_error <> '' THEN excluded.last_error "
        "ELSE trading_traderheartbeat.last_error END, "
        "last_error_at = COALESCE(excluded.last_error_at, trading_traderheartbeat.last_error_at)",
        [
            beat.symbol,
            db_value(TraderHeartbeat, "last_tick_at", beat.now),
            db_value(TraderHeartbeat, "last_tick_ms", beat.tick_ms),
            db_value(TraderHeartbeat, "last_mid", beat.mid),
            beat.runner,
            beat.error,
            db_value(TraderHeartbeat, "last_error_at", beat.now if beat.error else None),
        ],
    )


def heartbeat(beat: Heartbeat) -> None:
    batch_run([_heartbeat(beat)])


def strategy_errored(
    *, config_id: int, error: str, now: datetime, state: dict | None = None, version: int = 0
) -> Statement:
    """Errored; with `state` (a strategy that halted itself) also the state that says
    why, so its page does not show the state from before the last updates."""
    at = db_value(StrategyConfig, "updated_at", now)
    if state is None:
        return (
            "UPDATE trading_strategyconfig SET status = %s, last_error = %s, updated_at = %s "
            "WHERE id = %s",
            [StrategyStatus.ERRORED, error, at, config_id],
        )
    return (
        "UPDATE trading_strategyconfig SET status = %s, last_error = %s, state = %s, "
        "state_version = %s, state_updated_at = %s, updated_at = %s WHERE id = %s",
        [
            StrategyStatus.ERRORED,
            error,
            db_value(StrategyConfig, "state", state),
            version,
            at,
            at,
            config_id,
        ],
    )


def strategy_finished(*, config_id: int, state: dict, version: int, now: datetime) -> Statement:
    """Finished with its last state: off, and its version moved on."""
    at = db_value(StrategyConfig, "updated_at", now)
    return (
        "UPDATE trading_strategyconfig SET status = %s, is_active = %s, state = %s, "
        "state_version = %s, state_updated_at = %s, updated_at = %s WHERE id = %s",
        [
            StrategyStatus.FINISHED,
            False,
            db_value(StrategyConfig, "state", state),
            version,
            at,
            at,
            config_id,
        ],
    )


def tick_save_statements(
    *,
    states: list[tuple[int, dict, int]],
    fed: list[tuple[int, str, Decimal]],
    beat: Heartbeat,
) -> list[Statement]:
    """What a tick writes at its end: the strategies' new states ((config id, state, new
    version)), the order news they consumed ((order id, status, filled) as fed), and the
    heartbeat."""
    return [*_states(states, beat.now), *_news_consumed(fed), _heartbeat(beat)]
