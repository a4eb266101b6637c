"""Live market data and fills over the exchange's WebSocket streams, REST as fallback.

- runner.py: `StreamRunner`, the long-running process behind `manage.py runstreams`
  (reconnects with backoff and jitter, stall detection, REST catch-up after every
  reconnect); paper.py: `PaperStreamRunner` for the simulated exchanges.
- candles.py: closed klines into the candle table, and the bars missed meanwhile.
- user_data.py: order updates and fills pushed by the exchange, recorded through the
  order and fill services the tick and reconciliation use.
- feed.py: the tick's market data: the streamed book when fresh, REST otherwise.
- health.py: feed state per symbol for /api/health, the dashboard and /metrics.
"""
