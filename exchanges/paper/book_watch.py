"""The paper exchange's open orders, kept between reads on a PostgreSQL connection.

Every trading tick asks the paper exchange for a symbol's open orders (to match them
against the book and to follow them), and they rarely change: keeping them saves a
quiet tick one of its three round trips. What is kept is dropped as soon as anyone may
have changed it:

- every paper write that touches orders takes the account lock (PaperLedger
  .lock_account_with), which forgets the symbol on this connection at once and, in the
  same transaction, notifies the channel below with "<account> <symbol>" ("*" for the
  whole account), which PostgreSQL delivers to every listening connection at commit;
- before answering from what it kept, a connection drops what the notifications that
  reached it name (reading them costs no round trip: they arrive with other answers, or
  wait on the socket);
- a new connection (Django reconnected) starts with nothing kept.

Another process's order reaches this connection's notifications a moment after that
process commits: until then, like Binance's open-orders endpoint, the answer may be a
moment behind it (a caller that misses an order looks it up by id). Nothing is kept on
SQLite (no notifications) nor inside an atomic block, whose own writes notify only when
it commits.

Only connections of threads that tick keep anything (`keep_here`, from
Exchange.ticking): a listening connection must read its notifications now and then,
which a tick does every time; a web request's connection may then sit idle for hours.
"""

from __future__ import annotations

from xquant.sql import Statement, batch_run, current_connection, session_state

CHANNEL = "xquant_paper"
WHOLE_ACCOUNT = "*"


class BookWatch:
    """What one connection keeps: (account, symbol) -> the open orders as last read."""

    def __init__(self, raw_connection) -> None:
        self.raw_connection = raw_connection
        self.kept: dict[tuple[str, str], list] = {}

    def get(self, account: str, symbol: str) -> list | None:
        orders = self.kept.get((account, symbol))
        return None if orders is None else list(orders)

    def keep(self, account: str, symbol: str, orders: list) -> None:
        self.kept[(account, symbol)] = list(orders)

    def forget(self, account: str, symbol: str) -> None:
        if symbol == WHOLE_ACCOUNT:
            for key in [key for key in self.kept if key[0] == account]:
                del self.kept[key]
        else:
            self.kept.pop((account, symbol), None)

    def read_notifications(self) -> None:
        # Those that came with earlier answers, and any waiting on the socket (no wait).
        for notification in self.raw_connection.notifies(timeout=0):
            if notification.channel == CHANNEL:
                account, _, symbol = notification.payload.partition(" ")
                self.forget(account, symbol)


def keep_here() -> None:
    """This thread ticks: its connection keeps open orders from now on (reconnections
    included)."""
    current_connection()._xquant_keeps_open_orders = True


def book_watch() -> BookWatch | None:
    """The current connection's watch, its notifications read; None where nothing is
    kept (a thread that does not tick, SQLite, an atomic block)."""
    db = current_connection()
    if (
        not getattr(db, "_xquant_keeps_open_orders", False)
        or db.vendor != "postgresql"
        or db.in_atomic_block
    ):
        return None
    db.ensure_connection()
    watch = session_state(db, "paper book watch", lambda: _listen(db.connection))
    watch.read_notifications()
    return watch


def _listen(raw_connection) -> BookWatch:
    batch_run([(f"LISTEN {CHANNEL}", [])])
    return BookWatch(raw_connection)


def orders_changed(account: str, symbol: str) -> list[Statement]:
    """Statements for a write transaction that may change the account's orders of
    `symbol` (WHOLE_ACCOUNT: any): this connection forgets them now, every listening
    connection when the transaction commits."""
    db = current_connection()
    watch = session_state(db, "paper book watch")
    if watch is not None:
        watch.forget(account, symbol)
    if db.vendor != "postgresql":
        return []
    return [("SELECT pg_notify(%s, %s)", [CHANNEL, f"{account} {symbol}"])]
