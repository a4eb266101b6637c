"""A connection that records fill after fill on the same books writes the next one in a
single round trip, on the condition that the books are as it last wrote them; when they
are not (another process's fill, reconciliation), nothing of that attempt is written and
the fill is recorded the locking way."""

from __future__ import annotations

import threading
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.trading.test_fills import account_position, strategy_book, strategy_order, trade
from trading.models import Fill, Position, RealizedPnlHour, StrategyPosition
from trading.services.fills import fills_record

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only"),
    pytest.mark.django_db(transaction=True),
]


def _queries(work) -> list[str]:
    with CaptureQueriesContext(connection) as context:
        work()
    return [q["sql"] for q in context.captured_queries]


def test_the_next_fill_on_books_this_connection_wrote_takes_one_round_trip():
    order = strategy_order()
    first = _queries(lambda: fills_record(order=order, fills=[trade("1")], mark_price=D("65050")))
    assert len(first) == 2  # the books locked and read, then written

    sent = _queries(
        lambda: fills_record(order=order, fills=[trade("2", price="65100")], mark_price=D("65200"))
    )
    assert len(sent) == 1, sent
    assert sent[0].startswith("BEGIN;") and sent[0].endswith("COMMIT")
    for book in (account_position(), strategy_book(order)):
        assert book.quantity == D("0.020")
        assert book.entry_price == D("65050")
        assert book.fees_paid == D("0.52")
        assert book.mark_price == D("65200")
        assert book.unrealized_pnl == D("0.020") * (D("65200") - D("65050"))
    assert Fill.objects.count() == 2
    assert RealizedPnlHour.objects.get().realized_net == -2 * D("0.26")


def test_without_a_mark_the_rows_own_mark_is_used_as_under_the_lock():
    order = strategy_order()
    fills_record(order=order, fills=[trade("1", quantity="0.020")], mark_price=D("65050"))
    Position.objects.update(mark_price=D("64900"))  # a tick marked the books meanwhile
    StrategyPosition.objects.update(mark_price=D("64900"))

    [row] = fills_record(order=order, fills=[trade("2", side="SELL", price="65100")])

    assert row.realized_pnl == D("1.000")
    position = account_position()
    assert position.quantity == D("0.010")
    assert position.mark_price == D("64900")
    assert position.unrealized_pnl == D("0.010") * (D("64900") - D("65000"))


def test_a_book_changed_elsewhere_is_read_again_and_nothing_is_written_twice():
    order = strategy_order()
    fills_record(order=order, fills=[trade("1")])
    # Reconciliation put the account position right meanwhile.
    Position.objects.update(quantity=D("0.050"), entry_price=D("64000"))

    statements = _queries(lambda: fills_record(order=order, fills=[trade("2")]))

    assert any("ROLLBACK" in sql for sql in statements)  # the one-trip attempt failed
    position = account_position()
    assert position.quantity == D("0.060")
    assert position.entry_price == D("64166.666666666667")  # (0.05 × 64000 + 0.01 × 65000) / 0.06
    assert strategy_book(order).quantity == D("0.020")
    assert Fill.objects.count() == 2
    assert RealizedPnlHour.objects.get().realized_net == -2 * D("0.26")
    # Kept again from the locked read: the next fill is one trip again.
    assert len(_queries(lambda: fills_record(order=order, fills=[trade("3")]))) == 1
    assert account_position().quantity == D("0.070")


def test_a_trade_reported_again_moves_nothing():
    order = strategy_order()
    fills_record(order=order, fills=[trade("1")])
    assert fills_record(order=order, fills=[trade("1")]) == []
    rows = fills_record(order=order, fills=[trade("1"), trade("2")])
    assert [row.trade_id for row in rows] == ["2"]
    assert account_position().quantity == D("0.020")
    assert strategy_book(order).quantity == D("0.020")
    assert Fill.objects.count() == 2


def test_connections_recording_on_kept_books_at_once_move_the_positions_once():
    order = strategy_order()
    threads_count = 6
    warmed = threading.Barrier(threads_count)
    errors: list[BaseException] = []

    def report(own: str):
        try:
            # Each connection first records a trade of its own (and keeps the books),
            # then they all report the same trades at once, on books moved by the others.
            fills_record(order=order, fills=[trade(own)])
            warmed.wait(timeout=10)
            fills_record(order=order, fills=[trade("1"), trade("2"), trade("3")])
            fills_record(order=order, fills=[trade("3"), trade("4")])
        except BaseException as exc:  # reported below, on the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=report, args=(str(100 + i),)) for i in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    recorded = threads_count + 4
    assert Fill.objects.count() == recorded
    assert account_position().quantity == recorded * D("0.010")
    assert strategy_book(order).quantity == recorded * D("0.010")
    assert RealizedPnlHour.objects.get().realized_net == -recorded * D("0.26")
