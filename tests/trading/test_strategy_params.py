from __future__ import annotations

from decimal import Decimal

import pytest

from trading.strategies.params import normalize_params, validate_params
from xquant.errors import ValidationError

VALID = {
    "twap": {"side": "BUY", "total_quantity": "1", "slices": 4, "interval_seconds": 30},
    "vwap": {
        "side": "SELL",
        "total_quantity": "2",
        "volume_profile": [1, 2, 3],
        "interval_seconds": 60,
    },
    "iceberg": {"side": "BUY", "total_quantity": "5", "visible_quantity": "0.5"},
    "trailing_stop": {
        "side": "SELL",
        "quantity": "0.1",
        "trail_percent": "1.5",
        "reduce_only": True,
    },
    "technical": {"signal": "ma_cross", "quantity": "0.01", "fast_period": 5, "slow_period": 20},
    "combined": {
        "signal": "rsi",
        "quantity": "1",
        "execution": "twap",
        "slices": 5,
        "interval_seconds": 10,
    },
}


@pytest.mark.parametrize("kind", VALID)
def test_valid_params_come_back_typed_with_defaults(kind):
    params = validate_params(kind, VALID[kind])
    assert all(not isinstance(v, float) for v in params.values())
    stored = normalize_params(kind, VALID[kind])
    # What is stored validates again to the same values (through JSON and back).
    assert validate_params(kind, stored) == params


def test_decimals_are_decimals_and_stored_as_strings():
    params = validate_params("twap", VALID["twap"])
    assert params["total_quantity"] == Decimal("1")
    assert normalize_params("twap", VALID["twap"])["total_quantity"] == "1"


@pytest.mark.parametrize(
    ("kind", "params", "field", "fragment"),
    [
        ("twap", {**VALID["twap"], "slices": "many"}, "slices", "A valid integer is required."),
        ("vwap", {**VALID["vwap"], "volume_profile": [0, 0]}, "volume_profile", "positive volume"),
        ("vwap", {**VALID["vwap"], "volume_profile": []}, "volume_profile", "at least 1"),
        (
            "technical",
            {**VALID["technical"], "fast_period": 30},
            "fast_period",
            "smaller than slow_period",
        ),
        ("technical", {**VALID["technical"], "signal": "macd"}, "signal", "not a valid choice"),
        (
            "technical",
            {**VALID["technical"], "rsi_oversold": 80},
            "rsi_oversold",
            "below rsi_overbought",
        ),
        (
            "combined",
            {**VALID["combined"], "execution": "vwap"},
            "volume_profile",
            "Required when execution is vwap.",
        ),
        (
            "trailing_stop",
            {**VALID["trailing_stop"], "trail_percent": "0"},
            "trail_percent",
            "greater than or equal to 0.01",
        ),
        (
            "twap",
            {**VALID["twap"], "reduce_only": True, "position_side": "LONG"},
            "reduce_only",
            "one-way mode",
        ),
    ],
)
def test_invalid_params_name_the_field_and_what_is_allowed(kind, params, field, fragment):
    with pytest.raises(ValidationError) as excinfo:
        validate_params(kind, params)
    messages = " ".join(excinfo.value.extra["fields"][field])
    assert fragment in messages
    assert field in str(excinfo.value)


def test_unknown_kind_lists_the_allowed_kinds():
    with pytest.raises(ValidationError, match="Allowed: twap, vwap, iceberg"):
        validate_params("martingale", {})


def test_params_must_be_an_object():
    with pytest.raises(ValidationError, match="must be a JSON object"):
        validate_params("twap", ["BUY"])
