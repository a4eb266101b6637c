"""The paper account row and its lock, its positions, and the margin they hold.

Every write to the paper state runs in `transaction.atomic()` and first locks the
account row (`account_lock`: SELECT ... FOR UPDATE), so writers from any process take
turns and each reads positions and orders as the writer before it left them. SQLite has
no row locks: there the IMMEDIATE transactions of the settings take turns instead.
Reads take no lock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Exists, OuterRef

from exchanges.market_data import PriceFeed
from exchanges.models import OPEN_ORDER_STATUSES, PaperAccount, PaperOrder, PaperPosition
from exchanges.paper import accounting as acc

Clock = Callable[[], datetime]
#: (symbol, position side) -> the position.
Positions = dict[tuple[str, str], PaperPosition]


@dataclass(frozen=True, slots=True)
class Simulation:
    """What every paper operation works with: whose account, which prices, what time,
    which fees, and the balance a new account starts with."""

    account_name: str
    feed: PriceFeed
    clock: Clock
    starting_balance: Decimal
    maker_fee: Decimal
    taker_fee: Decimal

    def mark(self, symbol: str) -> Decimal:
        """The mark price: the feed's mid now."""
        return self.feed.mid_price(symbol, self.clock())


def account_get(*, sim: Simulation) -> PaperAccount:
    """The account, unlocked (created with its starting balance on first use)."""
    account = PaperAccount.objects.filter(name=sim.account_name).first()
    return account or account_create(sim=sim, now=sim.clock())


def account_create(*, sim: Simulation, now: datetime) -> PaperAccount:
    """The account with its starting balance, unless it exists (no error when another
    process created it a moment ago)."""
    account, _ = PaperAccount.objects.get_or_create(
        name=sim.account_name,
        defaults={"wallet_balance": sim.starting_balance, "created_at": now, "updated_at": now},
    )
    return account


def account_lock(
    *, sim: Simulation, now: datetime, client_order_id: str | None = None
) -> tuple[PaperAccount, bool]:
    """The account row, locked until the transaction ends: one writer at a time. Call it
    first in every paper write, inside `transaction.atomic()`.

    Also whether an open order already uses `client_order_id` (False when none is
    given), asked in the same query."""
    in_use = (
        Exists(
            PaperOrder.objects.filter(
                account_id=OuterRef("name"),
                client_order_id=client_order_id,
                status__in=OPEN_ORDER_STATUSES,
            )
        )
        if client_order_id is not None
        else None
    )
    accounts = PaperAccount.objects.select_for_update().filter(name=sim.account_name)
    if in_use is not None:
        accounts = accounts.annotate(client_id_in_use=in_use)
    account = accounts.first()
    if account is None:
        account_create(sim=sim, now=now)
        account = accounts.get()
    return account, bool(getattr(account, "client_id_in_use", False))


def positions_get(*, sim: Simulation, symbols: Iterable[str] | None = None) -> Positions:
    """Every position of the account (or of `symbols` only), flat ones included (under
    the lock when the caller holds it)."""
    positions = PaperPosition.objects.filter(account__name=sim.account_name)
    if symbols is not None:
        positions = positions.filter(symbol__in=symbols)
    return {(p.symbol, p.position_side): p for p in positions}


def position_for(
    *, sim: Simulation, positions: Positions, symbol: str, position_side: str, now: datetime
) -> PaperPosition:
    """The position of (symbol, side); a new flat one, unsaved until a fill moves it."""
    position = positions.get((symbol, position_side))
    if position is None:
        position = PaperPosition(
            account_id=sim.account_name,
            symbol=symbol,
            position_side=position_side,
            updated_at=now,
        )
        positions[(symbol, position_side)] = position
    return position


def symbol_setting(account: PaperAccount, symbol: str) -> tuple[int, bool]:
    """(leverage, isolated) of a symbol: Binance's defaults (20x, cross) until set."""
    config = account.symbol_settings.get(symbol, {})
    return int(config.get("leverage", acc.DEFAULT_LEVERAGE)), bool(config.get("isolated", False))


def unrealized(*, sim: Simulation, position: PaperPosition) -> Decimal:
    if position.quantity == 0:
        return acc.ZERO
    return acc.unrealized_pnl(position.quantity, position.entry_price, sim.mark(position.symbol))


def available(*, sim: Simulation, account: PaperAccount, positions: Positions) -> Decimal:
    """Wallet plus cross unrealised PnL, less the initial margin of positions and open
    orders (Binance availableBalance, without liquidation)."""
    result = account.wallet_balance - account.order_margin
    for position in positions.values():
        if position.quantity == 0:
            continue
        leverage, isolated = symbol_setting(account, position.symbol)
        result -= acc.initial_margin(position.quantity, position.entry_price, leverage)
        if not isolated:
            result += unrealized(sim=sim, position=position)
    return result
