"""Position arithmetic with hand-computed numbers (one-way, hedge, fees, partial fills)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal as D

import pytest

from trading.accounting import AccountingError, apply_fill, unrealized_pnl


@dataclass
class Book:
    quantity: D = D("0")
    entry_price: D = D("0")
    realized_pnl: D = D("0")
    fees_paid: D = D("0")


def fill(book, side, qty, price, fee="0", position_side="BOTH"):
    return apply_fill(
        book, side=side, position_side=position_side, quantity=D(qty), price=D(price), fee=D(fee)
    )


def test_one_way_average_entry_partial_close_flip_and_close():
    book = Book()
    assert fill(book, "BUY", "2", "100", "0.08") == 0
    assert (book.quantity, book.entry_price, book.realized_pnl) == (D("2"), D("100"), D("-0.08"))

    fill(book, "BUY", "1", "130", "0.052")
    # (2 × 100 + 1 × 130) / 3 = 110
    assert (book.quantity, book.entry_price, book.realized_pnl) == (D("3"), D("110"), D("-0.132"))

    # Close 1.5 at 120: 1.5 × (120 − 110) = 15; entry unchanged.
    assert fill(book, "SELL", "1.5", "120", "0.072") == D("15")
    assert (book.quantity, book.entry_price, book.realized_pnl) == (D("1.5"), D("110"), D("14.796"))

    # Sell 2.5 at 100: closes 1.5 × (100 − 110) = −15, then opens a 1 short at 100.
    assert fill(book, "SELL", "2.5", "100", "0.1") == D("-15")
    assert (book.quantity, book.entry_price, book.realized_pnl) == (D("-1"), D("100"), D("-0.304"))

    assert unrealized_pnl(book.quantity, book.entry_price, D("90")) == D("10")

    # Buy back the short at 90: +10 realised, flat.
    assert fill(book, "BUY", "1", "90", "0.036") == D("10")
    assert (book.quantity, book.entry_price, book.realized_pnl) == (D("0"), D("0"), D("9.660"))
    assert book.fees_paid == D("0.340")


def test_partial_fills_average_to_the_weighted_entry():
    book = Book()
    fill(book, "BUY", "0.3", "27000", "0.00324")
    fill(book, "BUY", "0.7", "27010", "0.0075628")
    # (0.3 × 27000 + 0.7 × 27010) / 1 = 27007
    assert book.quantity == D("1.0")
    assert book.entry_price == D("27007")
    assert book.fees_paid == D("0.0108028")


def test_hedge_mode_long_and_short_books_are_separate():
    long_book, short_book = Book(), Book()
    fill(long_book, "BUY", "1", "100", "0.04", "LONG")
    fill(short_book, "SELL", "2", "105", "0.084", "SHORT")
    assert (long_book.quantity, short_book.quantity) == (D("1"), D("-2"))

    # Reduce the long at 110: 0.4 × (110 − 100) = 4.
    assert fill(long_book, "SELL", "0.4", "110", "0.0176", "LONG") == D("4")
    # Reduce the short at 95: 0.5 × (95 − 105) × −1 = 5.
    assert fill(short_book, "BUY", "0.5", "95", "0.019", "SHORT") == D("5")
    assert (long_book.quantity, long_book.realized_pnl) == (D("0.6"), D("3.9424"))
    assert (short_book.quantity, short_book.realized_pnl) == (D("-1.5"), D("4.897"))
    assert unrealized_pnl(long_book.quantity, long_book.entry_price, D("101")) == D("0.6")
    assert unrealized_pnl(short_book.quantity, short_book.entry_price, D("101")) == D("6")


def test_hedge_mode_cannot_close_more_than_the_position():
    book = Book()
    fill(book, "BUY", "1", "100", position_side="LONG")
    with pytest.raises(AccountingError, match="exceeds the LONG position of 1"):
        fill(book, "SELL", "1.5", "100", position_side="LONG")
    assert book.quantity == D("1")


def test_fill_must_have_positive_quantity_and_price():
    with pytest.raises(AccountingError):
        fill(Book(), "BUY", "0", "100")
