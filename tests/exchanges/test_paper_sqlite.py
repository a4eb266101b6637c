"""The paper exchange on SQLite (the embedded mode): migrations, exact decimal amounts
and concurrent writers. The suite's database is PostgreSQL, so this runs in a child
process with its own SQLite file."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.exchanges.conftest import run_on_sqlite

SCENARIO = """
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
    result = run_on_sqlite(SCENARIO, tmp_path)

    assert (result["resting"], result["tp"]) == ("NEW", "FILLED")
    assert result["realized"] == "9.99000000"  # (60100 - 60000.1) * 0.1
    assert result["positions"] == {"ETHUSDT": "0.15000000"}
    assert result["errors"] == [] and result["eth_trades"] == 15
    eth_fees = Decimal(result["eth_fees"])
    assert eth_fees > 0
    # 10000 - 2.400004 taker + 9.99 realised - 1.202 maker - the ETH taker fees, exactly.
    assert Decimal(result["wallet"]) == Decimal("10006.387996") - eth_fees


READS = """
placed = [paper.create_order(OrderRequest("ETHUSDT", "BUY", "MARKET", D(q), f"m{n}"))
          for n, q in enumerate(["0.013", "0.07", "0.011"])]
paper.create_order(OrderRequest("ETHUSDT", "SELL", "LIMIT", D("0.05"), "tp", price=D("3000.07")))
feed.set("ETHUSDT", "3000.07", "3000.08")
clock.advance(1)
paper.market_snapshot("ETHUSDT")
fills = [paper.fetch_fills("ETHUSDT", exchange_order_id=p.exchange_order_id) for p in placed]
[position] = paper.fetch_positions()
[balance] = paper.fetch_balance()
print(json.dumps({
    "fills": [[f.client_order_id, str(f.quantity), str(f.fee)] for [f] in fills],
    "aware": all(f.executed_at.tzinfo is not None for [f] in fills),
    "position": [str(position.quantity), str(position.entry_price)],
    "available": str(balance.available),
}))
"""


@pytest.mark.slow
def test_paper_reads_on_sqlite_give_exact_amounts_and_aware_times(tmp_path):
    result = run_on_sqlite(READS, tmp_path)

    # Taker fees: 3000.01 × quantity × 0.0004, to 8 places.
    assert result["fills"] == [
        ["m0", "0.01300000", "0.01560005"],
        ["m1", "0.07000000", "0.08400028"],
        ["m2", "0.01100000", "0.01320004"],
    ]
    assert result["aware"] is True
    # 0.094 bought at 3000.01, 0.05 sold at 3000.07: the entry stays.
    assert result["position"] == ["0.04400000", "3000.01000000"]
    # Wallet 9999.86019893 (fees and the 0.003 realised), less the margin 6.600022 at
    # 20x, plus the unrealised 0.00286 at the mid 3000.075.
    assert result["available"] == "9993.26303693"
