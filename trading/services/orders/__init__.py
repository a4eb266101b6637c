"""The order manager: gets each order onto the exchange once, and records everything.

An order's life:
1. `order_create` — exchange filters (tick/step/min qty/min notional), then the risk
   guards (`order_prepare`), then a row with its client order id, all before any network
   call. A refused order is kept too, REJECTED with the reason (local filter code or
   "risk.<guard>"). A tick writes the rows itself, with its strategies' new states.
2. `order_submit` — the status moves PENDING → SUBMITTING (committed) *before* the
   request goes out (a tick that sends in its own process writes its orders SUBMITTING
   in the first place: `SendNow`, `order_send_claimed`), then the retry policy runs by
   error type (the ladder: policy.RETRY_LADDER):
   - time drift → sync the clock, send again (the exchange refused the request);
   - rate limited → wait (Retry-After, or exponential backoff with jitter), send again;
   - exchange unreachable before sending → back off, send again;
   - outcome unknown (timeout, 5xx, dropped connection) → look the order up by client
     order id, and send again only on a definite "no such order", which is trusted only
     once the request can no longer execute (Exchange.request_expiry_seconds);
   - rejected / insufficient funds / auth → no retry; REJECTED with the exchange's code.
   Every exchange call is an OrderAttempt row. An order left SUBMITTING (crash, lookups
   that kept failing) is resolved the same way by `order_submit` again or reconciliation.
3. `order_apply_state` / `orders_sync` — exchange status and fills flow back into the
   order, the positions and the strategy's pending update.
4. `order_cancel` / `orders_cancel_all` — cancelling, one or every working order.

One intent never produces two exchange orders: the client order id is fixed before the
first send and reused for every resend; a resend happens only after the exchange
definitively says it has no order with that id; and (strategy, intent key) is unique in
the database.
"""

from trading.services.orders.apply import (
    STATUS_FROM_EXCHANGE,
    order_apply_state,
    order_fetch_fills,
    order_record_fills,
)
from trading.services.orders.cancel import order_cancel, orders_cancel_all
from trading.services.orders.create import (
    PreparedOrder,
    new_client_order_id,
    order_create,
    order_place,
    order_prepare,
    order_save,
    order_settle_later,
)
from trading.services.orders.policy import (
    DEFAULT_RETRY_POLICY,
    MANUAL_RETRY_POLICY,
    RETRY_LADDER,
    RetryPolicy,
)
from trading.services.orders.submit import SendNow, order_request, order_send_claimed, order_submit
from trading.services.orders.sync import order_refresh, orders_sync

__all__ = [
    "DEFAULT_RETRY_POLICY",
    "MANUAL_RETRY_POLICY",
    "RETRY_LADDER",
    "STATUS_FROM_EXCHANGE",
    "PreparedOrder",
    "RetryPolicy",
    "SendNow",
    "new_client_order_id",
    "order_apply_state",
    "order_cancel",
    "order_create",
    "order_fetch_fills",
    "order_place",
    "order_prepare",
    "order_record_fills",
    "order_refresh",
    "order_request",
    "order_save",
    "order_send_claimed",
    "order_settle_later",
    "order_submit",
    "orders_cancel_all",
    "orders_sync",
]
