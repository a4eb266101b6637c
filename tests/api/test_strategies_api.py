"""Strategies through the API: list, create, read, change, toggle, delete, PnL, /ta."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tests.api.conftest import error_fields
from tests.factories import OrderFactory, StrategyConfigFactory
from tests.trading.strategies.support import build, fill, snap
from trading.models import StrategyConfig, StrategyPosition, StrategyStatus

pytestmark = pytest.mark.django_db

TWAP_PARAMS = {"side": "BUY", "total_quantity": "0.010", "slices": 5, "interval_seconds": 60}


def twap_state_after_two_slices_one_filled() -> dict:
    twap = build("twap", TWAP_PARAMS)
    first = twap.on_market_data(snap(0, 65000))
    fill(twap, first)
    second = twap.on_market_data(snap(60, 65010))
    assert len(first) == len(second) == 1
    return json.loads(json.dumps(twap.dump_state()))


# --- list and read --------------------------------------------------------------------


def test_list_shows_active_flag_status_and_twap_progress(api):
    StrategyConfigFactory(
        name="twap-btc", params=TWAP_PARAMS, state=twap_state_after_two_slices_one_filled()
    )
    StrategyConfigFactory(name="idle", is_active=False, status=StrategyStatus.ERRORED)

    response = api.get("/api/strategies")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    by_name = {row["name"]: row for row in body["results"]}
    twap = by_name["twap-btc"]
    assert twap["is_active"] is True
    assert twap["status"] == "ok"
    assert twap["kind"] == "twap"
    assert twap["state_summary"] == {
        "phase": "working",
        "total_quantity": "0.01",
        "executed_quantity": "0.002",
        "working_quantity": "0.002",
        "working_orders": 1,
        "progress_percent": "20",
        "slices": 5,
        "slices_due": 2,
    }
    assert "state" not in twap  # the full state is on the detail view only
    assert by_name["idle"]["is_active"] is False
    assert by_name["idle"]["status"] == "errored"
    assert by_name["idle"]["state_summary"]["phase"] == "not_started"


def test_list_filters_by_symbol_and_active_flag(api):
    StrategyConfigFactory(name="btc-on", symbol="BTCUSDT", is_active=True)
    StrategyConfigFactory(name="btc-off", symbol="BTCUSDT", is_active=False)
    StrategyConfigFactory(name="eth-on", symbol="ETHUSDT", is_active=True)

    names = lambda r: sorted(row["name"] for row in r.json()["results"])  # noqa: E731
    assert names(api.get("/api/strategies?symbol=btcusdt")) == ["btc-off", "btc-on"]
    assert names(api.get("/api/strategies?is_active=true")) == ["btc-on", "eth-on"]
    assert api.get("/api/strategies?kind=martingale").status_code == 400


def test_retrieve_includes_the_full_state(api):
    state = twap_state_after_two_slices_one_filled()
    strategy = StrategyConfigFactory(params=TWAP_PARAMS, state=state)

    response = api.get(f"/api/strategies/{strategy.pk}")

    assert response.status_code == 200
    assert response.json()["state"] == state
    assert response.json()["params"]["total_quantity"] == "0.010"


@pytest.mark.parametrize("strategy_id", ["999999", str(10**30)])
def test_unknown_strategy_is_404_in_the_error_shape(api, strategy_id):
    response = api.get(f"/api/strategies/{strategy_id}")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_non_numeric_id_is_a_json_404(api):
    response = api.get("/api/strategies/abc")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


# --- create ---------------------------------------------------------------------------


def test_create_validates_params_for_the_kind_and_stores_them_normalised(api):
    response = api.post(
        "/api/strategies",
        {"name": "slow buy", "kind": "twap", "symbol": "BTCUSDT", "params": TWAP_PARAMS},
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    strategy = StrategyConfig.objects.get(pk=body["id"])
    assert strategy.is_active is False
    assert strategy.params["total_quantity"] == "0.01"
    assert strategy.params["order_type"] == "MARKET"  # default filled in
    assert body["params"] == strategy.params


def test_create_with_a_taken_name_is_409(api):
    StrategyConfigFactory(name="slow buy")
    response = api.post(
        "/api/strategies",
        {"name": "slow buy", "kind": "twap", "symbol": "BTCUSDT", "params": TWAP_PARAMS},
        format="json",
    )
    assert response.status_code == 409
    assert "already exists" in response.json()["message"]


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"kind": None}, "kind", "required"),
        ({"kind": "martingale"}, "kind", "not a valid choice"),
        ({"symbol": "btc/usdt"}, "symbol", "BTCUSDT"),
        ({"params": ["BUY"]}, "params", "JSON object"),
        ({"params": {**TWAP_PARAMS, "slices": 0}}, "params.slices", "greater than or equal to 1"),
        ({"params": {**TWAP_PARAMS, "slices": "many"}}, "params.slices", "whole number"),
        ({"params": {**TWAP_PARAMS, "slices": "5"}}, "params.slices", "whole number"),
        ({"params": {**TWAP_PARAMS, "slices": 2.5}}, "params.slices", "whole number"),
        (
            {"params": {**TWAP_PARAMS, "total_quantity": "-1"}},
            "params.total_quantity",
            "greater than or equal",
        ),
        (
            {"params": {**TWAP_PARAMS, "total_quantity": "1e30"}},
            "params.total_quantity",
            "digits",
        ),
        ({"params": {**TWAP_PARAMS, "slicez": 5}}, "params.slicez", "Unknown parameter"),
        ({"is_active": "maybe"}, "is_active", "true or false"),
        ({"is_active": 0}, "is_active", "true or false"),
        ({"name": 42}, "name", "must be a string"),
        ({"owner": "me"}, "owner", "Unknown field"),
    ],
)
def test_create_refuses_bad_input_naming_the_field(api, change, field, says):
    body = {"name": "s", "kind": "twap", "symbol": "BTCUSDT", "params": TWAP_PARAMS, **change}
    body = {k: v for k, v in body.items() if v is not None}

    response = api.post("/api/strategies", body, format="json")

    assert response.status_code == 400
    fields = error_fields(response)
    assert field in fields, fields
    assert says.lower() in " ".join(fields[field]).lower()
    assert not StrategyConfig.objects.exists()


def test_create_with_nothing_lists_every_required_field(api):
    response = api.post("/api/strategies", {}, format="json")
    assert response.status_code == 400
    assert set(error_fields(response)) == {"name", "kind", "symbol", "params"}


def test_malformed_json_is_a_400_saying_so(api):
    response = api.post("/api/strategies", data='{"name": "x", ', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_request"


def test_a_form_encoded_body_is_415(api):
    response = api.post("/api/strategies", {"name": "x"})  # multipart
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


# --- update ---------------------------------------------------------------------------


def test_patch_changes_name_and_params(api):
    strategy = StrategyConfigFactory(name="old", params=TWAP_PARAMS)
    response = api.patch(
        f"/api/strategies/{strategy.pk}",
        {"name": "new", "params": {**TWAP_PARAMS, "slices": 10}},
        format="json",
    )
    assert response.status_code == 200, response.json()
    strategy.refresh_from_db()
    assert strategy.name == "new"
    assert strategy.params["slices"] == 10


def test_patch_validates_params_against_the_strategies_own_kind(api):
    strategy = StrategyConfigFactory(params=TWAP_PARAMS)
    response = api.patch(
        f"/api/strategies/{strategy.pk}",
        {"params": {"signal": "rsi", "quantity": "0.01"}},
        format="json",
    )
    assert response.status_code == 400
    assert "params.signal" in error_fields(response)
    strategy.refresh_from_db()
    assert strategy.params["slices"] == 5


def test_patch_cannot_change_the_kind_or_the_active_flag(api):
    strategy = StrategyConfigFactory()
    response = api.patch(
        f"/api/strategies/{strategy.pk}", {"kind": "vwap", "is_active": False}, format="json"
    )
    assert response.status_code == 400
    assert set(error_fields(response)) == {"kind", "is_active"}


def test_patch_with_nothing_says_what_can_change(api):
    strategy = StrategyConfigFactory()
    response = api.patch(f"/api/strategies/{strategy.pk}", {}, format="json")
    assert response.status_code == 400
    assert "toggle" in response.json()["message"]


def test_patch_symbol_of_a_strategy_with_state_is_409(api):
    strategy = StrategyConfigFactory(state=twap_state_after_two_slices_one_filled())
    response = api.patch(f"/api/strategies/{strategy.pk}", {"symbol": "ETHUSDT"}, format="json")
    assert response.status_code == 409
    strategy.refresh_from_db()
    assert strategy.symbol == "BTCUSDT"


def test_put_is_not_allowed(api):
    strategy = StrategyConfigFactory()
    response = api.put(f"/api/strategies/{strategy.pk}", {}, format="json")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


# --- toggle ---------------------------------------------------------------------------


def test_toggle_sets_the_requested_state(api):
    strategy = StrategyConfigFactory(is_active=True)
    response = api.post(f"/api/strategies/{strategy.pk}/toggle", {"active": False}, format="json")
    assert response.status_code == 200
    assert response.json()["is_active"] is False
    strategy.refresh_from_db()
    assert strategy.is_active is False


def test_toggle_without_a_body_flips_and_switching_on_clears_an_error(api):
    strategy = StrategyConfigFactory(
        is_active=False, status=StrategyStatus.ERRORED, last_error="boom"
    )
    response = api.post(f"/api/strategies/{strategy.pk}/toggle")
    assert response.status_code == 200
    strategy.refresh_from_db()
    assert (strategy.is_active, strategy.status, strategy.last_error) == (True, "ok", "")
    api.post(f"/api/strategies/{strategy.pk}/toggle")
    strategy.refresh_from_db()
    assert strategy.is_active is False


def test_toggle_refuses_a_non_boolean(api):
    strategy = StrategyConfigFactory(is_active=True)
    response = api.post(f"/api/strategies/{strategy.pk}/toggle", {"active": "soon"}, format="json")
    assert response.status_code == 400
    assert "active" in error_fields(response)


def test_toggle_unknown_strategy_is_404(api):
    assert api.post("/api/strategies/424242/toggle").status_code == 404


# --- delete ---------------------------------------------------------------------------


def test_delete_a_strategy_that_never_traded(api):
    strategy = StrategyConfigFactory()
    response = api.delete(f"/api/strategies/{strategy.pk}")
    assert response.status_code == 204
    assert not StrategyConfig.objects.filter(pk=strategy.pk).exists()


def test_delete_a_strategy_with_orders_is_409_and_says_to_deactivate(api):
    strategy = StrategyConfigFactory()
    OrderFactory(strategy=strategy, source="strategy", intent_key="slice-1")

    response = api.delete(f"/api/strategies/{strategy.pk}")

    assert response.status_code == 409
    assert response.json()["code"] == "strategy_has_orders"
    assert "deactivate" in response.json()["message"]
    assert StrategyConfig.objects.filter(pk=strategy.pk).exists()


def test_delete_unknown_strategy_is_404(api):
    assert api.delete("/api/strategies/424242").status_code == 404


# --- PnL ------------------------------------------------------------------------------


def test_pnl_sums_the_strategys_own_positions(api):
    strategy = StrategyConfigFactory()
    other = StrategyConfigFactory()
    for symbol, realized, unrealized in (("BTCUSDT", "12.5", "-2"), ("ETHUSDT", "-1.5", "4.25")):
        StrategyPosition.objects.create(
            strategy=strategy,
            exchange="paper",
            symbol=symbol,
            quantity=Decimal("0.1"),
            entry_price=Decimal("100"),
            realized_pnl=Decimal(realized),
            unrealized_pnl=Decimal(unrealized),
            fees_paid=Decimal("0.5"),
        )
    StrategyPosition.objects.create(
        strategy=other, exchange="paper", symbol="BTCUSDT", realized_pnl=Decimal("1000")
    )

    response = api.get(f"/api/strategies/{strategy.pk}/pnl")

    assert response.status_code == 200
    body = response.json()
    assert (body["realized_pnl"], body["unrealized_pnl"], body["total_pnl"]) == (
        "11",
        "2.25",
        "13.25",
    )
    assert body["fees_paid"] == "1"
    assert [p["symbol"] for p in body["positions"]] == ["BTCUSDT", "ETHUSDT"]

    listed = api.get(f"/api/strategy-positions?strategy={strategy.pk}").json()
    assert listed["count"] == 2
    assert {row["strategy_name"] for row in listed["results"]} == {strategy.name}


# --- POST /api/strategies/ta ----------------------------------------------------------


def test_ta_creates_an_active_technical_strategy_named_for_type_and_symbol(api):
    response = api.post(
        "/api/strategies/ta",
        {
            "symbol": "BTCUSDT",
            "strategy_type": "ma_cross",
            "params": {"quantity": "0.01", "fast_period": 5, "slow_period": 20},
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    strategy = StrategyConfig.objects.get(pk=response.json()["id"])
    assert (strategy.kind, strategy.name, strategy.is_active) == (
        "technical",
        "ma_cross BTCUSDT",
        True,
    )
    assert strategy.params["signal"] == "ma_cross"
    assert strategy.params["slow_period"] == 20

    again = api.post(
        "/api/strategies/ta",
        {"symbol": "BTCUSDT", "strategy_type": "ma_cross", "params": {"quantity": "0.02"}},
        format="json",
    )
    assert again.json()["name"] == "ma_cross BTCUSDT #2"


def test_ta_rsi_with_a_given_name(api):
    response = api.post(
        "/api/strategies/ta",
        {
            "symbol": "ETHUSDT",
            "strategy_type": "rsi",
            "name": "eth rsi",
            "params": {"quantity": "0.5", "rsi_oversold": 25, "rsi_overbought": 75},
            "is_active": False,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["params"]["rsi_oversold"] == "25"
    assert response.json()["is_active"] is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"strategy_type": "macd", "params": {"quantity": "1"}}, "strategy_type"),
        ({"params": {"quantity": "1"}}, "strategy_type"),
        ({"strategy_type": "rsi", "params": {}}, "params.quantity"),
        ({"strategy_type": "rsi", "params": {"quantity": "0"}}, "params.quantity"),
        ({"strategy_type": "rsi", "params": {"quantity": 10**100}}, "params.quantity"),
        ({"strategy_type": "rsi", "params": "quantity=1"}, "params"),
        (
            {"strategy_type": "rsi", "params": {"quantity": "1", "signal": "ma_cross"}},
            "params.signal",
        ),
        (
            {"strategy_type": "ma_cross", "params": {"quantity": "1", "fast_period": 30}},
            "params.fast_period",
        ),
    ],
)
def test_ta_refuses_bad_input(api, body, field):
    response = api.post("/api/strategies/ta", {"symbol": "BTCUSDT", **body}, format="json")
    assert response.status_code == 400
    assert field in error_fields(response)
    assert not StrategyConfig.objects.exists()
