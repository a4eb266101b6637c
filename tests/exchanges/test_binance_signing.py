"""Request signing: Binance's documented HMAC-SHA256 example, and that the connector's
ccxt client and the emulator sign the same bytes."""

from __future__ import annotations

import hashlib

from exchanges.binance.client import FapiClient
from tests.binance_emulator import sign

# Binance USD-M "General Info", SIGNED endpoint example (reference §3.3).
DOC_API_KEY = "dbefbc809e3e83c283a984c3a1459732ea7db1360ca80c5c2c8867408d28cc83"
DOC_SECRET = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"
DOC_QUERY = (
    "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC"
    "&recvWindow=5000&timestamp=1591702613943"
)
DOC_SIGNATURE = "3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9"


def test_binance_documentation_hmac_sha256_example():
    assert sign(DOC_SECRET, DOC_QUERY) == DOC_SIGNATURE


def test_ccxt_hmac_reproduces_the_documentation_example():
    digest = FapiClient.hmac(DOC_QUERY.encode(), DOC_SECRET.encode(), hashlib.sha256)
    assert digest == DOC_SIGNATURE


def test_query_and_body_are_signed_concatenated_without_a_separator():
    # The docs' "mixed" example without its stray space (reference §3.3).
    query = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC"
    body = "quantity=1&price=9000&recvWindow=5000&timestamp=1591702613943"
    assert (
        sign(DOC_SECRET, query + body)
        == "30baaf0fab549bbeda7f5ef201898b34122da25fd23c646cac2c529aebe670a4"
    )


def test_connector_client_signs_an_order_in_ccxt_parameter_order():
    client = FapiClient(
        api_key=DOC_API_KEY,
        api_secret=DOC_SECRET,
        base_url="http://127.0.0.1:9",
        timeout_ms=1000,
        recv_window_ms=5000,
        weight_throttle=None,
    )
    client.nonce = lambda: 1591702613943
    request = client.sign(
        "order",
        ["fapiPrivate"],
        "POST",
        {
            "symbol": "BTCUSDT",
            "side": "BUY",
            "type": "LIMIT",
            "quantity": "1",
            "price": "9000",
            "timeInForce": "GTC",
            "newClientOrderId": "x",
        },
    )
    body, signature = request["body"].rsplit("&signature=", 1)
    assert body == (
        "timestamp=1591702613943&symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000"
        "&timeInForce=GTC&newClientOrderId=x&recvWindow=5000"
    )
    assert signature == "8e458d81d71d112bf15b864a94da79af804024fdefc0af9ff30d3dd853a899b9"
    assert signature == sign(DOC_SECRET, body)
    assert request["headers"]["X-MBX-APIKEY"] == DOC_API_KEY
    assert request["url"] == "http://127.0.0.1:9/fapi/v1/order"
