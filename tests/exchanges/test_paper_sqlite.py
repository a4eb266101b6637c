"""The paper exchange on SQLite (the embedded mode): migrations, exact decimal amounts
and concurrent writers. The suite's database is PostgreSQL, so this runs in a child
process with its own SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCENARIO = """
import json, threading
from decimal import Decimal as D
import django
django.setup()
from django.core.management import call_command
from django.db import connections
call_command("migrate", verbosity=0)

from exchanges.base import OrderRequest
from exchanges.models import PaperTrade
from exchanges.paper import PaperExchange
from tests.exchanges.conftest import FakeClock, ScriptedFeed

feed, clock = ScriptedFeed(), FakeClock()
paper = PaperExchange(feed=feed, clock=clock, account="lite", starting_balance="10000",
                      maker_fee="0.0002", taker_fee="0.0004", symbols=["BTCUSDT", "ETHUSDT"])
paper.create_order(OrderRequest("BTCUSDT", "BUY", "MARKET", D("0.1"), "buy"))
paper.create_order(OrderRequest("BTCUSDT", "SELL", "LIMIT", D("0.1"), "tp", price=D("60100.0")))
resting = paper.fetch_order("BTCUSDT", "tp").status
feed.set("BTCUSDT", "60100.0", "60100.1")
clock.advance(1)
paper.market_snapshot("BTCUSDT")

errors = []
def trade(worker):
    try:
        for n in range(5):
            paper.create_order(OrderRequest("ETHUSDT", "BUY", "MARKET", D("0.01"), f"w{worker}-{n}"))
    except Exception as error:
        errors.append(repr(error))
    finally:
        connections.close_all()
threads = [threading.Thread(target=trade, args=(w,)) for w in range(3)]
[t.start() for t in threads]
[t.join() for t in threads]

[balance] = paper.fetch_balance()
print(json.dumps({
    "resting": resting,
    "tp": paper.fetch_order("BTCUSDT", "tp").status,
    "realized": str(PaperTrade.objects.get(order__client_order_id="tp").realized_pnl),
    "positions": {p.symbol: str(p.quantity) for p in paper.fetch_positions()},
    "eth_trades": PaperTrade.objects.filter(symbol="ETHUSDT").count(),
    "eth_fees": str(sum(t.fee for t in PaperTrade.objects.filter(symbol="ETHUSDT"))),
    "wallet": str(balance.total - balance.unrealized_pnl),
    "errors": errors,
}))
"""


@pytest.mark.slow
def test_paper_exchange_on_sqlite_keeps_exact_amounts_and_serialises_writers(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'paper.sqlite3'}",
        "REDIS_URL": "",
        "DJANGO_SETTINGS_MODULE": "xquant.settings",
        "PYTHONPATH": str(ROOT),
    }
    child = subprocess.run(
        [sys.executable, "-c", SCENARIO], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert child.returncode == 0, child.stderr
    result = json.loads(child.stdout.strip().splitlines()[-1])

    assert (result["resting"], result["tp"]) == ("NEW", "FILLED")
    assert result["realized"] == "9.99000000"  # (60100 - 60000.1) * 0.1
    assert result["positions"] == {"ETHUSDT": "0.15000000"}
    assert result["errors"] == [] and result["eth_trades"] == 15
    eth_fees = Decimal(result["eth_fees"])
    assert eth_fees > 0
    # 10000 - 2.400004 taker + 9.99 realised - 1.202 maker - the ETH taker fees, exactly.
    assert Decimal(result["wallet"]) == Decimal("10006.387996") - eth_fees
