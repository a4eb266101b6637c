"""Exchange WebSocket streams: the ccxt.pro client for Binance USD-M (client.py), what
its raw events mean in xQuant's value objects (events.py), and the latest book per
symbol where every process can read it (book.py).

What the streams do to the database (fills, orders, candles), the reconnecting runner
and the tick's use of the streamed book live in trading.streams.
"""
