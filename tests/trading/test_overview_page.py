from __future__ import annotations

import pytest

from tests.factories import OrderFactory, StrategyConfigFactory

pytestmark = pytest.mark.django_db


def test_overview_requires_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_overview_lists_strategies_and_recent_orders(client, user):
    StrategyConfigFactory(name="BTC TWAP")
    OrderFactory(client_order_id="xq-recent-1", symbol="ETHUSDT")
    client.force_login(user)
    page = client.get("/").content.decode()
    assert "BTC TWAP" in page
    assert "ETHUSDT" in page
