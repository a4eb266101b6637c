"""The statements every tick runs, in plain SQL (only "%s" placeholders and constant
column names are ever formatted into them).

A tick runs a dozen of these for every symbol, several hundred times a second on a busy
desk. Building a query through the ORM costs about 0.7 ms of CPU each (measured: 0.8 ms
per ORM round trip against 0.1 ms for the same statement here), which would be most of
the tick's budget, so the per-tick bookkeeping lives here as SQL that PostgreSQL and
SQLite (3.35+: RETURNING, ON CONFLICT) both run. Everything that happens only when
something trades stays in the ORM.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db import connection

from trading.models import OPEN_STATUSES, Position, StrategyConfig, StrategyStatus, TraderHeartbeat


def _placeholders(values: Iterable[Any]) -> str:
    return ", ".join(["%s"] * len(list(values)))


def _db(model, field: str, value: Any) -> Any:
    """The value as the model field stores it on this database (jsonb, naive UTC text
    on SQLite, ...)."""
    return model._meta.get_field(field).get_db_prep_value(value, connection)


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


def working_orders(*, exchange: str, symbol: str) -> list[tuple[int, str, Decimal]]:
    """(id, client order id, filled quantity) of the symbol's open orders."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, client_order_id, filled_quantity FROM trading_order "
            f"WHERE exchange = %s AND symbol = %s AND status IN ({_placeholders(_OPEN)})",
            [exchange, symbol, *_OPEN],
        )
        return [(pk, cid, db_decimal(filled)) for pk, cid, filled in cursor.fetchall()]


def positions_mark(
    *, exchange: str, symbol: str, mark_price: Decimal, now: datetime
) -> list[Position]:
    """Mark every open book of the symbol to the price; returns the open account positions."""
    params = {
        "mark": _db(Position, "mark_price", mark_price),
        "now": _db(Position, "marked_at", now),
        "exchange": exchange,
        "symbol": symbol,
    }
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE trading_strategyposition SET mark_price = %(mark)s, marked_at = %(now)s, "
            "unrealized_pnl = quantity * (%(mark)s - entry_price) "
            "WHERE exchange = %(exchange)s AND symbol = %(symbol)s AND quantity <> 0",
            params,
        )
        cursor.execute(
            "UPDATE trading_position SET mark_price = %(mark)s, marked_at = %(now)s, "
            "unrealized_pnl = quantity * (%(mark)s - entry_price) "
            "WHERE exchange = %(exchange)s AND symbol = %(symbol)s AND quantity <> 0 "
            "RETURNING id, position_side, quantity, entry_price, realized_pnl, fees_paid, unrealized_pnl",
            params,
        )
        rows = cursor.fetchall()
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


_CONFIG_FIELDS = (
    "id",
    "name",
    "kind",
    "symbol",
    "params",
    "is_active",
    "state",
    "status",
    "last_error",
    "created_at",
    "updated_at",
    "state_updated_at",
    "state_version",
)


def _aware(value: Any) -> Any:
    # SQLite stores naive UTC.
    return (
        value.replace(tzinfo=UTC) if isinstance(value, datetime) and value.tzinfo is None else value
    )


def active_strategy_versions(*, symbol: str) -> list[tuple[int, datetime, int]]:
    """(id, updated_at, state_version) of the symbol's active, healthy strategies: enough
    to tell whether an instance kept in memory is still current."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, updated_at, state_version FROM trading_strategyconfig "
            "WHERE symbol = %s AND is_active AND status = %s ORDER BY name",
            [symbol, StrategyStatus.OK],
        )
        return [(pk, _aware(updated), version) for pk, updated, version in cursor.fetchall()]


def strategies_load(*, ids: list[int]) -> dict[int, StrategyConfig]:
    """Full configs (params and state decoded), as model instances."""
    if not ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(_CONFIG_FIELDS)} FROM trading_strategyconfig WHERE id IN ({_placeholders(ids)})",
            ids,
        )
        rows = cursor.fetchall()
    fields = [StrategyConfig._meta.get_field(name) for name in _CONFIG_FIELDS]
    configs = {}
    for row in rows:
        values = {}
        for field, value in zip(fields, row, strict=True):
            if hasattr(field, "from_db_value"):  # JSON
                value = field.from_db_value(value, None, connection)
            values[field.attname] = _aware(value)
        values["is_active"] = bool(values["is_active"])
        config = StrategyConfig(**values)
        config._state.adding, config._state.db = False, connection.alias
        configs[config.pk] = config
    return configs


def order_news(
    *, strategy_ids: list[int]
) -> list[tuple[int, int, str, str, str, Decimal, Decimal | None]]:
    """(id, strategy id, intent key, side, status, filled, average price) of the orders
    with news for these strategies, oldest first."""
    if not strategy_ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, strategy_id, intent_key, side, status, filled_quantity, average_price "
            f"FROM trading_order WHERE strategy_update_pending AND strategy_id IN ({_placeholders(strategy_ids)}) "
            "ORDER BY id",
            strategy_ids,
        )
        return [
            (pk, sid, key, side, status, db_decimal(filled), db_decimal(average))
            for pk, sid, key, side, status, filled, average in cursor.fetchall()
        ]


def news_consumed(*, fed: list[tuple[int, str, Decimal]]) -> None:
    """Clear the news flag of orders whose news was fed, unless they moved on since."""
    if fed:
        with connection.cursor() as cursor:
            cursor.executemany(
                "UPDATE trading_order SET strategy_update_pending = %s "
                "WHERE id = %s AND status = %s AND filled_quantity = %s",
                [(False, pk, status, filled) for pk, status, filled in fed],
            )


def strategy_states_save(*, states: list[tuple[int, dict, int]], now: datetime) -> None:
    """(config id, state, new version) for each strategy whose state changed."""
    if states:
        with connection.cursor() as cursor:
            cursor.executemany(
                "UPDATE trading_strategyconfig SET state = %s, state_version = %s, state_updated_at = %s "
                "WHERE id = %s",
                [
                    (
                        _db(StrategyConfig, "state", state),
                        version,
                        _db(StrategyConfig, "state_updated_at", now),
                        pk,
                    )
                    for pk, state, version in states
                ],
            )


def heartbeat(
    *, symbol: str, now: datetime, tick_ms: Decimal, runner: str, mid: Decimal | None, error: str
) -> None:
    """Count the tick and remember when, by whom, at what price (and the error, if any)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO trading_traderheartbeat "
            "(symbol, last_tick_at, last_tick_ms, last_mid, tick_count, runner, last_error, last_error_at) "
            "VALUES (%(symbol)s, %(now)s, %(ms)s, %(mid)s, 1, %(runner)s, %(error)s, %(error_at)s) "
            "ON CONFLICT (symbol) DO UPDATE SET last_tick_at = excluded.last_tick_at, "
            "last_tick_ms = excluded.last_tick_ms, runner = excluded.runner, "
            "tick_count = trading_traderheartbeat.tick_count + 1, "
            "last_mid = COALESCE(excluded.last_mid, trading_traderheartbeat.last_mid), "
            "last_error = CASE WHEN excluded.last_error <> '' THEN excluded.last_error "
            "ELSE trading_traderheartbeat.last_error END, "
            "last_error_at = COALESCE(excluded.last_error_at, trading_traderheartbeat.last_error_at)",
            {
                "symbol": symbol,
                "now": _db(TraderHeartbeat, "last_tick_at", now),
                "ms": _db(TraderHeartbeat, "last_tick_ms", tick_ms),
                "mid": _db(TraderHeartbeat, "last_mid", mid),
                "runner": runner,
                "error": error,
                "error_at": _db(TraderHeartbeat, "last_error_at", now if error else None),
            },
        )
