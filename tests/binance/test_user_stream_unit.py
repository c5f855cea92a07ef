"""Missed-fill reconstruction from userTrades (pure functions of the user-stream recovery)."""

from __future__ import annotations

from decimal import Decimal

from grinder.binance.schemas import OrderResponse, UserTrade
from grinder.binance.user_stream import fills_from_trades, order_from_trades, order_update_key
from grinder.core.enums import ExecutionType, OrderStatus
from grinder.core.rules import btcusdt_rules


def trade(tid: int, qty: str, price: str = "60000.00") -> UserTrade:
    return UserTrade(symbol="BTCUSDT", id=tid, orderId=9, side="BUY", price=price, qty=qty,
                     realizedPnl=Decimal(0), commission=Decimal("0.01"), commissionAsset="USDT", time=1000 + tid,
                     maker=True)


ORDER = OrderResponse(orderId=9, symbol="BTCUSDT", status="PARTIALLY_FILLED", clientOrderId="grinder_x_1",
                      price="60000.00", origQty="0.050", executedQty="0.030", side="BUY", type="LIMIT",
                      avgPrice="60000.00")


def test_cumulative_fill_and_status_are_rebuilt_per_trade() -> None:
    # 0.010 was filled before the gap; 0.005 and 0.015 were missed (out of id order on purpose).
    fills = fills_from_trades(ORDER, [trade(12, "0.015"), trade(11, "0.005")], btcusdt_rules())
    assert [(f.trade_id, f.last_fill_lots, f.cum_filled_lots, f.status) for f in fills] == [
        (11, 5, 15, OrderStatus.PARTIALLY_FILLED), (12, 15, 30, OrderStatus.PARTIALLY_FILLED)]
    assert all(f.execution_type is ExecutionType.TRADE and f.client_order_id == "grinder_x_1" for f in fills)
    assert fills[0].price_ticks == 600000 and fills[0].commission == Decimal("0.01") and fills[0].is_maker
    assert order_update_key(fills[0]) == ("BTCUSDT", 9, "TRADE", 11)


def test_unqueryable_order_still_yields_every_fill() -> None:
    trades = [trade(1, "0.010"), trade(2, "0.020", "60000.10")]
    order = order_from_trades("BTCUSDT", 9, trades)
    fills = fills_from_trades(order, trades, btcusdt_rules())
    assert sum(f.last_fill_lots for f in fills) == 30
    assert fills[-1].status is OrderStatus.FILLED and fills[-1].cum_filled_lots == 30
    assert fills[1].last_fill_price_ticks == 600001
