"""The paper exchange's open orders, kept between reads on a PostgreSQL connection.

Every trading tick asks the paper exchange for a symbol's open orders (to match them
against the book and to follow them), and they rarely change: keeping them saves a
quiet tick one of its three round trips. What is kept is dropped as soon as anyone may
have changed it:

- every paper write that touches orders announces it (`orders_changed`: from the
  account lock, PaperLedger.lock_account_with, or a one-trip fill, quick_fill), which
  forgets the symbol on this connection at once and, in the same transaction, notifies
  the channel below with "<account> <symbol>" ("*" for the whole account), which
  PostgreSQL delivers to every listening connection at commit;
- a write that knows what it did to the open orders (an order placed, resting orders
  filled) hands this connection the orders as they are after its commit
  (`orders_written`), unless another connection's notification has dropped anything
  since it began: the tick after an order then needs no read;
- before answering from what it kept, a connection drops what the notifications of the
  other connections name (reading them costs no round trip: they arrive with other
  answers, or wait on the socket; its own writes were dealt with when made);
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
        self.backend_pid = raw_connection.info.backend_pid
        self.kept: dict[tuple[str, str], list] = {}
        #: What this connection's write in progress dropped, and `forgets` then.
        self.writing: dict[tuple[str, str], tuple[list, int]] = {}
        #: How many times anything was dropped: a write's result is kept only if
        #: nothing was dropped while it ran.
        self.forgets = 0

    def get(self, account: str, symbol: str) -> list | None:
        orders = self.kept.get((account, symbol))
        return None if orders is None else list(orders)

    def keep(self, account: str, symbol: str, orders: list) -> None:
        self.kept[(account, symbol)] = list(orders)

    def forget(self, account: str, symbol: str) -> None:
        self.forgets += 1
        if symbol == WHOLE_ACCOUNT:
            for key in [key for key in self.kept if key[0] == account]:
                del self.kept[key]
        else:
            self.kept.pop((account, symbol), None)

    def write_begins(self, account: str, symbol: str) -> None:
        kept = self.kept.get((account, symbol))
        self.forget(account, symbol)
        if kept is not None and symbol != WHOLE_ACCOUNT:
            self.writing[(account, symbol)] = (kept, self.forgets)

    def write_committed(self, account: str, symbol: str, added: list, removed: set[str]) -> None:
        before = self.writing.pop((account, symbol), None)
        if before is not None and before[1] == self.forgets:
            orders, _ = before
            self.kept[(account, symbol)] = [
                *(o for o in orders if o.exchange_order_id not in removed),
                *added,
            ]

    def read_notifications(self) -> None:
        # Those that came with earlier answers, and any waiting on the socket (no wait).
        for notification in self.raw_connection.notifies(timeout=0):
            if notification.channel == CHANNEL and notification.pid != self.backend_pid:
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
        watch.write_begins(account, symbol)
    if db.vendor != "postgresql":
        return []
    return [("SELECT pg_notify(%s, %s)", [CHANNEL, f"{account} {symbol}"])]


def orders_written(
    account: str, symbol: str, *, added: list | None = None, removed: set[str] | None = None
) -> None:
    """Once a write to the account's `symbol` orders (announced by `orders_changed`) has
    committed, what it did: open orders `added`, and those `removed` (exchange order
    ids). This connection then keeps the result, if it kept the orders before the write
    and nothing else dropped them since; otherwise it reads them next time."""
    watch = session_state(current_connection(), "paper book watch")
    if watch is not None:
        watch.write_committed(account, symbol, added or [], removed or set())
