"""The paper exchange's state lives in the database: another process sees it and changes
it, concurrent writers do not lose updates, and the same seed and clock replay exactly."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection, connections

from exchanges.base import OrderRequest
from exchanges.market_data import SyntheticFeed
from exchanges.models import PaperAccount, PaperTrade
from exchanges.paper import PaperExchange
from tests.conftest import child_env

ROOT = Path(__file__).resolve().parents[2]
D = Decimal

SECOND_PROCESS = """
import json, sys
from decimal import Decimal
import django
django.setup()
from exchanges.base import OrderRequest
from exchanges.paper import PaperExchange

paper = PaperExchange(account="shared")
seen = {
    "open": [o.client_order_id for o in paper.fetch_open_orders("BTCUSDT")],
    "positions": [[p.symbol, str(p.quantity), p.leverage] for p in paper.fetch_positions()],
    "fills": [f.client_order_id for f in paper.fetch_fills("BTCUSDT")],
    "hedge": paper.set_position_mode(hedge=False).changed,
}
paper.cancel_order("BTCUSDT", "resting-1")
paper.create_order(OrderRequest("BTCUSDT", "BUY", "MARKET", Decimal("0.002"), "from-child"))
print(json.dumps(seen))
"""


def child_database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_state_survives_reopening_from_a_second_process():
    paper = PaperExchange(account="shared")
    paper.set_leverage("BTCUSDT", 4)
    paper.create_order(OrderRequest("BTCUSDT", "BUY", "MARKET", D("0.003"), "from-parent"))
    price = paper.market_snapshot("BTCUSDT").bid
    paper.create_order(
        OrderRequest(
            "BTCUSDT", "BUY", "LIMIT", D("0.01"), "resting-1", price=(price / 2).quantize(D("0.1"))
        )
    )
    del paper  # nothing kept in memory: the child starts from the database alone

    env = child_env(DATABASE_URL=child_database_url())
    child = subprocess.run(
        [sys.executable, "-c", SECOND_PROCESS], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    assert child.returncode == 0, child.stderr
    seen = json.loads(child.stdout.strip().splitlines()[-1])
    assert seen == {
        "open": ["resting-1"],
        "positions": [["BTCUSDT", "0.00300000", 4]],
        "fills": ["from-parent"],
        "hedge": False,
    }

    # And what the child did is here.
    reopened = PaperExchange(account="shared")
    assert reopened.fetch_open_orders("BTCUSDT") == []
    assert reopened.fetch_order("BTCUSDT", "resting-1").status == "CANCELED"
    [position] = reopened.fetch_positions()
    assert position.quantity == D("0.005")
    assert [f.client_order_id for f in reopened.fetch_fills("BTCUSDT")] == [
        "from-parent",
        "from-child",
    ]


@pytest.mark.django_db(transaction=True)
def test_concurrent_orders_from_many_threads_lose_no_update(feed, clock):
    paper = PaperExchange(feed=feed, clock=clock, account="busy", starting_balance="100000")
    paper.fetch_balance()  # create the account
    errors = []

    def trade(worker: int):
        try:
            for n in range(5):
                paper.create_order(
                    OrderRequest("ETHUSDT", "BUY", "MARKET", D("0.01"), f"w{worker}-{n}")
                )
        except Exception as error:  # surfaced by the assertion below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=trade, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    [position] = paper.fetch_positions()
    assert position.quantity == D("0.20")
    fees = sum(t.fee for t in PaperTrade.objects.filter(account_id="busy"))
    assert PaperTrade.objects.filter(account_id="busy").count() == 20
    assert PaperAccount.objects.get(name="busy").wallet_balance == D("100000") - fees


def run_session(account: str, clock) -> list:
    paper = PaperExchange(
        feed=SyntheticFeed(seed=42), clock=clock, account=account, starting_balance="10000",
        symbols=["BTCUSDT"],
    )  # fmt: skip
    results = []
    mid = paper.market_snapshot("BTCUSDT").mid
    paper.create_order(OrderRequest("BTCUSDT", "BUY", "MARKET", D("0.01"), f"{account}-1"))
    paper.create_order(
        OrderRequest("BTCUSDT", "SELL", "LIMIT", D("0.01"), f"{account}-2", price=mid * D("1.0005"))
    )
    for _ in range(600):  # ten minutes of ticks: the walk may cross the limit
        clock.advance(1)
        results.append(paper.market_snapshot("BTCUSDT").bid)
    results.append(
        [(f.price, f.fee, f.is_maker, f.executed_at) for f in paper.fetch_fills("BTCUSDT")]
    )
    results.append(paper.fetch_balance())
    return results


@pytest.mark.django_db
def test_same_seed_and_clock_give_the_same_session(clock):
    from tests.exchanges.conftest import FakeClock

    first = run_session("run-a", FakeClock(clock.now))
    second = run_session("run-b", FakeClock(clock.now))
    assert first == second
    assert len({str(bid) for bid in first[:600]}) > 10
    fills = first[600]
    assert [is_maker for _, _, is_maker, _ in fills] == [False, True]  # the limit was crossed
