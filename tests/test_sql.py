"""xquant.sql: several statements in one round trip, and model rows as plain SQL."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from trading.models import Order, Position, StrategyConfig
from xquant.sql import (
    Statement,
    batch_run,
    batch_transaction,
    insert_statement,
    update_statement,
)

pytestmark = pytest.mark.django_db


def _order(**fields) -> Order:
    return Order(
        client_order_id=fields.pop("client_order_id", "xqsql0001"),
        exchange="paper",
        symbol="BTCUSDT",
        side="BUY",
        order_type="MARKET",
        quantity=Decimal("0.125"),
        source="api",
        **fields,
    )


def test_batch_returns_one_result_per_statement_in_order():
    first, second, third = batch_run(
        [("SELECT 1, %s", ["a"]), ("SELECT %s::int", [2]), ("SELECT 3 WHERE %s", [False])]
    )
    assert first.rows == [(1, "a")]
    assert second.rows == [(2,)]
    assert third.rows == []


postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's"
)


@postgresql_only
def test_a_statement_sent_again_runs_prepared_with_the_same_answers():
    sql = "SELECT id, symbol FROM trading_order WHERE symbol = %s AND quantity > %s"
    batch_run([insert_statement(_order(reason="prepared"))])
    answers = []
    with CaptureQueriesContext(connection) as queries:
        for threshold in ("0.1", "0.1", "0.1", "1"):
            (result,) = batch_run([(sql, ["BTCUSDT", Decimal(threshold)])])
            answers.append([symbol for _, symbol in result.rows])
    sent = [query["sql"] for query in queries.captured_queries]
    assert answers == [["BTCUSDT"], ["BTCUSDT"], ["BTCUSDT"], []]
    assert sent[0].startswith("SELECT")
    assert sent[1].startswith("PREPARE") and "EXECUTE" in sent[1]
    assert all(query.startswith("EXECUTE") for query in sent[2:])


@postgresql_only
def test_a_batch_failing_after_its_prepare_leaves_later_batches_working():
    select = ("SELECT count(*) FROM trading_order WHERE symbol = %s", ["BTCUSDT"])
    batch_run([select])
    with pytest.raises(DatabaseError), transaction.atomic():
        batch_run([select, ("SELECT 1 / 0 WHERE %s", [True])])  # prepared, then fails
    for _ in range(2):
        (result,) = batch_run([select])
        assert result.rows == [(0,)]


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_new_connection_prepares_afresh():
    select = ("SELECT count(*) FROM trading_strategyconfig WHERE kind = %s", ["twap"])
    batch_run([select])
    batch_run([select])  # prepared on this connection
    connection.close()
    for _ in range(3):
        (result,) = batch_run([select])
        assert result.rows == [(0,)]


def test_insert_statement_saves_what_save_would_and_returns_the_id():
    order = _order(reason="test")
    (result,) = batch_run([insert_statement(order)])
    (pk,) = result.rows[0]
    stored = Order.objects.get(pk=pk)
    assert (stored.client_order_id, stored.quantity, stored.reason) == (
        "xqsql0001",
        Decimal("0.125"),
        "test",
    )
    assert stored.created_at == order.created_at and stored.created_at is not None


def test_insert_ignoring_conflicts_returns_nothing_for_a_duplicate():
    strategy = StrategyConfig.objects.create(name="s", kind="twap", symbol="BTCUSDT", params={})
    batch_run([insert_statement(_order(strategy=strategy, intent_key="k1"))])
    (result,) = batch_run(
        [
            insert_statement(
                _order(client_order_id="xqsql0002", strategy=strategy, intent_key="k1"),
                ignore_conflicts=True,
            )
        ]
    )
    assert result.rows == []
    assert Order.objects.filter(strategy=strategy).count() == 1


def test_update_statement_writes_only_the_named_fields_under_its_condition():
    position = Position.objects.create(exchange="paper", symbol="BTCUSDT", position_side="BOTH")
    position.quantity, position.entry_price = Decimal("2"), Decimal("100.5")
    position.realized_pnl = Decimal("9")  # not named: stays
    (missed,) = batch_run(
        [update_statement(position, ["quantity"], where="quantity <> %s", params=[0])]
    )
    assert missed.rowcount == 0
    (done,) = batch_run([update_statement(position, ["quantity", "entry_price"])])
    assert done.rowcount == 1
    position.refresh_from_db()
    assert (position.quantity, position.entry_price, position.realized_pnl) == (
        Decimal("2"),
        Decimal("100.5"),
        Decimal("0"),
    )


@pytest.mark.django_db(transaction=True)
class TestBatchTransaction:
    def _insert(self, cid: str) -> Statement:
        return insert_statement(_order(client_order_id=cid), returning=())

    def test_commits_with_its_last_batch_and_sends_begin_with_its_first(self):
        calls = []
        with CaptureQueriesContext(connection) as queries, batch_transaction() as tx:
            tx.run([self._insert("xqtx0001")])
            tx.on_commit(lambda: calls.append("committed"))
            tx.run([self._insert("xqtx0002")], commit=True)
            assert calls == []  # not before the block ends
        assert len(queries.captured_queries) == 2  # no BEGIN or COMMIT of their own
        assert calls == ["committed"]
        assert Order.objects.filter(client_order_id__startswith="xqtx").count() == 2

    def test_a_block_that_raises_leaves_nothing_and_calls_nothing(self):
        calls = []
        with pytest.raises(RuntimeError), batch_transaction() as tx:
            tx.run([self._insert("xqtx0003")])
            tx.on_commit(lambda: calls.append(1))
            raise RuntimeError("checks failed")
        assert calls == []
        assert not Order.objects.filter(client_order_id="xqtx0003").exists()
        # The connection is usable and back in autocommit.
        batch_run([self._insert("xqtx0004")])
        assert Order.objects.filter(client_order_id="xqtx0004").exists()

    def test_a_failing_statement_rolls_the_whole_transaction_back(self):
        with pytest.raises(IntegrityError), batch_transaction() as tx:
            tx.run([self._insert("xqtx0005")])
            tx.run([self._insert("xqtx0005")], commit=True)  # duplicate client order id
        assert not Order.objects.filter(client_order_id="xqtx0005").exists()

    def test_a_block_without_a_committing_batch_commits_at_its_end(self):
        with batch_transaction() as tx:
            tx.run([self._insert("xqtx0006")])
        assert Order.objects.filter(client_order_id="xqtx0006").exists()

    def test_inside_an_atomic_block_it_is_a_savepoint_and_commits_with_it(self):
        calls = []
        with pytest.raises(RuntimeError), transaction.atomic():
            with batch_transaction() as tx:
                tx.run([self._insert("xqtx0007")], commit=True)
                tx.on_commit(lambda: calls.append(1))
            assert Order.objects.filter(client_order_id="xqtx0007").exists()
            raise RuntimeError("the outer block fails")
        assert calls == []
        assert not Order.objects.filter(client_order_id="xqtx0007").exists()
