"""Wire parsing: every message of the real captures, documentation examples, and bad input."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from grinder.binance.errors import MalformedMessage
from grinder.binance.parse import decode_stream_message, parse_depth_snapshot
from grinder.binance.schemas import (
    Account,
    BalanceRow,
    ExchangeInfoResponse,
    ListenKeyExpired,
    OrderResponse,
    PositionRisk,
    PremiumIndex,
    UserTrade,
)
from grinder.binance.units import Grid
from grinder.core.enums import ExecutionType, OrderStatus, OrderType, PositionSide, Side, TimeInForce
from grinder.core.events import (
    AccountUpdate,
    BookTicker,
    DepthSnapshot,
    DepthUpdate,
    MarkPrice,
    OrderUpdate,
    Trade,
)
from grinder.core.rules import SymbolRules, btcusdt_rules
from tests.binance.conftest import capture_lines

# ---------------------------------------------------------------- real captures


@pytest.mark.parametrize("symbol", ["BTCUSDT", "ETHUSDT"])
def test_every_capture_message_decodes(symbol: str, rules: dict[str, SymbolRules]) -> None:
    kinds: Counter[str] = Counter()
    snapshots = 0
    for _, payload in capture_lines(symbol):
        if payload.startswith(b'{"lastUpdateId"'):
            snap = parse_depth_snapshot(payload, symbol, rules[symbol])
            assert snap.bids[0][0] > snap.asks[0][0] - 10_000 and snap.bids[0][0] < snap.asks[0][0]
            snapshots += 1
            continue
        ev = decode_stream_message(payload, rules)
        assert ev is not None
        kinds[type(ev).__name__] += 1
        # Spot-check one conversion per type against the raw JSON (exact, via Decimal).
        if kinds[type(ev).__name__] == 1:
            data = json.loads(payload)["data"]
            r = rules[symbol]
            if isinstance(ev, BookTicker):
                assert ev.bid_ticks * r.tick_size == Decimal(data["b"])
                assert ev.ask_lots * r.step_size == Decimal(data["A"])
                assert ev.update_id == data["u"]
            elif isinstance(ev, Trade):
                assert ev.price_ticks * r.tick_size == Decimal(data["p"])
                assert ev.trade_id == data["t"] and ev.buyer_is_maker is data["m"]
            elif isinstance(ev, DepthUpdate):
                assert (ev.first_update_id, ev.final_update_id, ev.prev_final_update_id) == (
                    data["U"], data["u"], data["pu"])
                assert len(ev.bids) == len(data["b"]) and len(ev.asks) == len(data["a"])
    assert snapshots == 1
    expected = {"BTCUSDT": (66_089, 21_313, 6_551), "ETHUSDT": (53_992, 14_076, 6_586)}[symbol]
    assert (kinds["BookTicker"], kinds["Trade"], kinds["DepthUpdate"]) == expected


# ---------------------------------------------------------------- documentation examples (§4.3, §4.4, §5.2)

ORDER_TRADE_UPDATE = {
    "e": "ORDER_TRADE_UPDATE", "E": 1568879465651, "T": 1568879465650,
    "o": {
        "s": "BTCUSDT", "c": "grinder_g1_BTCUSDT_b1_1700000000_1", "S": "SELL", "o": "LIMIT", "f": "GTC",
        "q": "0.002", "p": "96500.00", "ap": "96500.0", "sp": "0", "x": "TRADE", "X": "PARTIALLY_FILLED",
        "i": 8886774, "l": "0.001", "z": "0.001", "L": "96500.00", "N": "USDT", "n": "0.01930000",
        "T": 1568879465650, "t": 424242, "b": "0", "a": "193.00", "m": True, "R": False,
        "wt": "CONTRACT_PRICE", "ot": "LIMIT", "ps": "BOTH", "cp": False, "rp": "0", "pP": False,
        "si": 0, "ss": 0, "V": "EXPIRE_TAKER", "pm": "NONE", "gtd": 0, "er": "0",
    },
}
ACCOUNT_UPDATE = {
    "e": "ACCOUNT_UPDATE", "E": 1564745798939, "T": 1564745798938,
    "a": {
        "m": "ORDER",
        "B": [{"a": "USDT", "wb": "122624.12345678", "cw": "100.12345678", "bc": "50.12345678"},
              {"a": "BUSD", "wb": "1.00000000", "cw": "0.00000000", "bc": "-49.12345678"}],
        "P": [{"s": "BTCUSDT", "pa": "-0.010", "ep": "96500.00000", "bep": "96510.3", "cr": "200",
               "up": "0.1", "mt": "isolated", "iw": "0.00000000", "ps": "BOTH"}],
    },
}


def wrap(stream: str, data: dict[str, object]) -> bytes:
    return json.dumps({"stream": stream, "data": data}).encode()


def test_order_trade_update(rules: dict[str, SymbolRules]) -> None:
    for raw in (json.dumps(ORDER_TRADE_UPDATE), wrap("listenkey", ORDER_TRADE_UPDATE)):
        ev = decode_stream_message(raw, rules)
        assert isinstance(ev, OrderUpdate)
        assert ev == OrderUpdate(
            symbol="BTCUSDT", order_id=8886774, client_order_id="grinder_g1_BTCUSDT_b1_1700000000_1",
            side=Side.SELL, order_type=OrderType.LIMIT, time_in_force=TimeInForce.GTC,
            position_side=PositionSide.BOTH, reduce_only=False, price_ticks=965000, orig_qty_lots=2,
            execution_type=ExecutionType.TRADE, status=OrderStatus.PARTIALLY_FILLED, last_fill_lots=1,
            last_fill_price_ticks=965000, cum_filled_lots=1, avg_price=Decimal("96500.0"),
            commission=Decimal("0.01930000"), commission_asset="USDT", realized_pnl=Decimal(0), is_maker=True,
            trade_id=424242, event_time_ms=1568879465651, transaction_time_ms=1568879465650, expiry_reason=0,
        )
        assert ev.is_fill


def test_order_update_without_commission_and_liquidation_type(rules: dict[str, SymbolRules]) -> None:
    doc = json.loads(json.dumps(ORDER_TRADE_UPDATE))
    for k in ("N", "n"):
        del doc["o"][k]
    doc["o"].update({"o": "LIQUIDATION", "x": "NEW", "X": "NEW", "t": 0, "l": "0", "z": "0", "L": "0",
                     "c": "autoclose-1", "p": "96500.05"})  # off-grid bankruptcy price is rounded, not lost
    ev = decode_stream_message(json.dumps(doc), rules)
    assert isinstance(ev, OrderUpdate)
    assert ev.order_type is OrderType.MARKET and ev.commission == 0 and ev.commission_asset == ""
    assert ev.price_ticks == 965000 and not ev.is_fill


def test_account_update(rules: dict[str, SymbolRules]) -> None:
    ev = decode_stream_message(json.dumps(ACCOUNT_UPDATE), rules)
    assert isinstance(ev, AccountUpdate)
    assert ev.reason == "ORDER" and ev.event_time_ms == 1564745798939
    assert ev.balances[0].asset == "USDT" and ev.balances[0].wallet_balance == Decimal("122624.12345678")
    assert ev.balances[1].balance_change == Decimal("-49.12345678")
    pos = ev.positions[0]
    assert pos.amount_lots == -10 and pos.entry_price == Decimal("96500.00000") and pos.margin_type == "isolated"


def test_mark_price_and_agg_trade(rules: dict[str, SymbolRules]) -> None:
    mark = {"e": "markPriceUpdate", "E": 1562305380000, "s": "BTCUSDT", "p": "96511.23456789",
            "i": "96510.1", "P": "96520.0", "r": "0.00038167", "T": 1562306400000}
    ev = decode_stream_message(wrap("btcusdt@markPrice@1s", mark), rules)
    assert ev == MarkPrice("BTCUSDT", Decimal("96511.23456789"), Decimal("96510.1"), Decimal("0.00038167"),
                           1562306400000, 1562305380000)
    agg = {"e": "aggTrade", "E": 123456789, "s": "BTCUSDT", "a": 5933014, "p": "96500.10", "q": "0.123",
           "nq": "0.100", "f": 100, "l": 105, "T": 123456785, "m": True}
    tr = decode_stream_message(json.dumps(agg), rules)
    assert tr == Trade("BTCUSDT", 5933014, 965001, 123, True, 123456785, 123456789)
    assert tr.aggressor is Side.SELL


def test_acks_unmodelled_events_and_listen_key_expiry(rules: dict[str, SymbolRules]) -> None:
    assert decode_stream_message('{"result":null,"id":1}', rules) is None
    assert decode_stream_message('{"e":"TRADE_LITE","E":1,"s":"BTCUSDT"}', rules) is None
    assert decode_stream_message('{"e":"MARGIN_CALL","E":1,"cw":"3.1","p":[]}', rules) is None
    ev = decode_stream_message('{"e":"listenKeyExpired","E":1576653824250,"listenKey":"abc"}', rules)
    assert ev == ListenKeyExpired("abc", 1576653824250)


@pytest.mark.parametrize(
    ("frame", "why"),
    [
        (b"not json", "not JSON"),
        (b'{"e":"bookTicker","u":1,"s":"BTCUSDT","b":"1.0"}', "bookTicker"),  # missing fields
        (b'{"e":"bookTicker","u":1,"s":"BTCUSDT","b":"61800.25","B":"1","a":"61800.3","A":"1"}', "multiple"),
        (b'{"e":"bookTicker","u":1,"s":"DOGEUSDT","b":"1","B":"1","a":"1","A":"1"}', "DOGEUSDT"),
        (b'{"e":"somethingNew","E":1}', "somethingNew"),
        (b'{"e":"bookTicker","u":1,"s":"BTCUSDT","b":"-1.0","B":"1","a":"1","A":"1"}', "is negative"),
        (b'{"e":"aggTrade","E":1,"s":"BTCUSDT","a":1,"p":"1.0","q":"-0.001","m":true,"T":1}', "is negative"),
        (b"[1,2,3]", "unexpected"),
        (b'{"error":{"code":2,"msg":"Invalid request"},"id":4}', "refused"),
    ],
)
def test_malformed_frames_raise_with_a_reason(frame: bytes, why: str, rules: dict[str, SymbolRules]) -> None:
    with pytest.raises(MalformedMessage, match=why):
        decode_stream_message(frame, rules)


def test_depth_snapshot_from_dict_and_garbage() -> None:
    r = btcusdt_rules()
    snap = parse_depth_snapshot(
        {"lastUpdateId": 7, "E": 1, "T": 2, "bids": [["100.0", "1.000"]], "asks": [["100.1", "0.5"]]}, "BTCUSDT", r
    )
    assert snap == DepthSnapshot("BTCUSDT", 7, ((1000, 1000),), ((1001, 500),), 1, 2)
    with pytest.raises(MalformedMessage, match="BTCUSDT depth snapshot"):
        parse_depth_snapshot(b'{"lastUpdateId":7,"bids":[["x","1"]],"asks":[]}', "BTCUSDT", r)


# ---------------------------------------------------------------- fast exact decimal → grid


@given(st.integers(min_value=0, max_value=10**12), st.sampled_from(["0.10", "0.01", "0.001", "1", "0.5", "25"]))
def test_grid_round_trips_exactly(units: int, step: str) -> None:
    grid = Grid(step)
    value = Decimal(step) * units
    for text in (format(value, "f"), format(value.quantize(Decimal("0.00000001")), "f")):
        assert grid.units(text) == units


@given(st.decimals(min_value=0, max_value=10**6, places=4, allow_nan=False, allow_infinity=False))
def test_grid_rejects_exactly_the_off_grid_values(value: Decimal) -> None:
    grid = Grid("0.10")
    text = format(value, "f")
    if value % Decimal("0.10") == 0:
        assert grid.units(text) * Decimal("0.10") == value
    else:
        with pytest.raises(ValueError, match="not a multiple"):
            grid.units(text)


@pytest.mark.parametrize("bad", ["", "-", ".5", "1e3", "1_000", "abc", "NaN", " 1.0x"])
def test_grid_rejects_garbage(bad: str) -> None:
    with pytest.raises(ValueError, match=r"not a plain decimal|not a multiple"):
        Grid("0.10").units(bad)


# ---------------------------------------------------------------- REST documentation examples (§3)

ORDER_OBJECT = {
    "orderId": 22542179, "symbol": "BTCUSDT", "status": "NEW", "clientOrderId": "grinder_g1_BTCUSDT_b1_1_1",
    "price": "96500.00", "avgPrice": "0.00", "origQty": "0.010", "executedQty": "0.004", "cumQty": "0.004",
    "cumQuote": "386.00", "timeInForce": "GTC", "type": "LIMIT", "reduceOnly": False, "closePosition": False,
    "side": "BUY", "positionSide": "BOTH", "stopPrice": "0", "workingType": "CONTRACT_PRICE",
    "priceProtect": False, "origType": "LIMIT", "priceMatch": "NONE", "selfTradePreventionMode": "NONE",
    "goodTillDate": 0, "updateTime": 1566818724722,
}


def test_order_response_helpers() -> None:
    r = btcusdt_rules()
    order = msgspec.json.decode(json.dumps(ORDER_OBJECT), type=OrderResponse)
    assert order.to_status() is OrderStatus.NEW and order.to_side() is Side.BUY
    assert order.price_ticks(r) == 965000
    assert (order.orig_lots(r), order.executed_lots(r), order.remaining_lots(r)) == (10, 4, 6)
    queried = {**ORDER_OBJECT, "time": 1566818724700}
    del queried["cumQty"]
    assert msgspec.json.decode(json.dumps(queried), type=OrderResponse).time == 1566818724700


def test_account_schemas_decode_doc_examples() -> None:
    pos = msgspec.json.decode(json.dumps([{
        "entryPrice": "96500.0", "breakEvenPrice": "96510.0", "marginType": "isolated", "isAutoAddMargin": "false",
        "isolatedMargin": "0.00006000", "leverage": "10", "liquidationPrice": "0", "markPrice": "96600.0",
        "maxNotionalValue": "100000000", "positionAmt": "-0.002", "notional": "-193.2", "isolatedWallet": "0",
        "symbol": "BTCUSDT", "unRealizedProfit": "-0.2", "positionSide": "BOTH", "updateTime": 1625474304765,
    }]), type=list[PositionRisk])
    assert pos[0].amount_lots(btcusdt_rules()) == -2
    bal = msgspec.json.decode(json.dumps([{
        "accountAlias": "SgsR", "asset": "USDT", "balance": "122607.35137903", "crossWalletBalance": "23.72469206",
        "crossUnPnl": "0.00000000", "availableBalance": "23.72469206", "maxWithdrawAmount": "23.72469206",
        "marginAvailable": True, "updateTime": 1617939110373,
    }]), type=list[BalanceRow])
    assert bal[0].balance == Decimal("122607.35137903")
    acct = msgspec.json.decode(json.dumps({
        "totalInitialMargin": "0", "totalMaintMargin": "0", "totalWalletBalance": "103.12345678",
        "totalUnrealizedProfit": "0.0", "totalMarginBalance": "103.12345678", "totalPositionInitialMargin": "0",
        "totalOpenOrderInitialMargin": "0", "totalCrossWalletBalance": "103.12345678", "totalCrossUnPnl": "0",
        "availableBalance": "103.12345678", "maxWithdrawAmount": "103.12345678",
        "assets": [{"asset": "USDT", "walletBalance": "103.12345678", "unrealizedProfit": "0",
                    "marginBalance": "103.12345678", "maintMargin": "0", "initialMargin": "0",
                    "positionInitialMargin": "0", "openOrderInitialMargin": "0",
                    "crossWalletBalance": "103.12345678", "crossUnPnl": "0", "availableBalance": "103.12345678",
                    "maxWithdrawAmount": "103.12345678", "updateTime": 1625474304765}],
        "positions": [{"symbol": "BTCUSDT", "positionSide": "BOTH", "positionAmt": "1.000",
                       "unrealizedProfit": "0.0", "isolatedMargin": "0", "notional": "0", "isolatedWallet": "0",
                       "initialMargin": "0", "maintMargin": "0", "updateTime": 0}],
    }), type=Account)
    assert acct.availableBalance == Decimal("103.12345678") and acct.positions[0].positionAmt == "1.000"
    trades = msgspec.json.decode(json.dumps([{
        "buyer": False, "commission": "-0.07819010", "commissionAsset": "USDT", "id": 698759, "maker": False,
        "orderId": 25851813, "price": "7819.01", "qty": "0.002", "quoteQty": "15.63802", "realizedPnl": "-0.91539999",
        "side": "SELL", "positionSide": "SHORT", "symbol": "BTCUSDT", "time": 1569514978020,
    }]), type=list[UserTrade])
    assert trades[0].qty_lots(btcusdt_rules()) == 2 and trades[0].price_ticks(SymbolRules(
        symbol="BTCUSDT", tick_size=Decimal("0.01"), step_size=Decimal("0.001"))) == 781901
    prem = msgspec.json.decode(json.dumps({
        "symbol": "BTCUSDT", "markPrice": "11793.63104562", "indexPrice": "11781.80495970",
        "estimatedSettlePrice": "11781.16138815", "lastFundingRate": "0.00038246", "interestRate": "0.00010000",
        "nextFundingTime": 1597392000000, "time": 1597370495002,
    }), type=PremiumIndex)
    assert prem.markPrice == Decimal("11793.63104562")


def test_exchange_info_to_rules() -> None:
    r = btcusdt_rules()
    doc = {
        "timezone": "UTC", "serverTime": 1565246363776,
        "rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
                       {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200}],
        "exchangeFilters": [], "assets": [],
        "symbols": [{"symbol": "BTCUSDT", "pair": "BTCUSDT", "contractType": "PERPETUAL", "status": "TRADING",
                     "baseAsset": "BTC", "quoteAsset": "USDT", "marginAsset": "USDT", "pricePrecision": 2,
                     "quantityPrecision": 3, "filters": r.to_filters()}],
    }
    info = msgspec.json.decode(json.dumps(doc), type=ExchangeInfoResponse)
    rebuilt = SymbolRules.from_exchange_info(info.symbols[0])
    assert rebuilt.tick_size == r.tick_size and rebuilt.min_notional == r.min_notional
    assert info.rateLimits[0].limit == 2400


def test_wrapper_with_other_spacing_or_key_order(rules: dict[str, SymbolRules]) -> None:
    mark = {"e": "markPriceUpdate", "E": 1, "s": "BTCUSDT", "p": "96511.2", "i": "1", "r": "0", "T": 2}
    spaced = json.dumps({"stream": "btcusdt@markPrice", "data": mark}, indent=1).encode()
    reordered = json.dumps({"data": mark, "stream": "btcusdt@markPrice"}).encode()
    for frame in (spaced, reordered):
        ev = decode_stream_message(frame, rules)
        assert isinstance(ev, MarkPrice) and ev.mark_price == Decimal("96511.2")


# ---------------------------------------------------------------- depth levels


@given(
    st.decimals(min_value=-(10**6), max_value=10**9, places=6, allow_nan=False, allow_infinity=False),
    st.integers(0, 3),
    st.sampled_from(["0.10", "0.01", "0.001", "1", "0.5", "25", "0.00010"]),
)
def test_level_units_agrees_with_decimal(value: Decimal, pad: int, step: str) -> None:
    """Depth-level conversion is exact: the Decimal quotient when on the grid and not negative."""
    grid = Grid(step)
    text = format(value, "f")
    if pad:
        text = text + ("0" * pad if "." in text else "." + "0" * pad)  # trailing zeros change nothing
    quotient = Decimal(text) / Decimal(step)
    on_grid = quotient == quotient.to_integral_value()
    if on_grid and quotient >= 0:
        assert grid.level_units(text) == int(quotient) == grid.units(text)
        assert grid.level_cache[text] == int(quotient)
        assert grid.level_units(text) == int(quotient)  # the cached answer is the same
    else:
        with pytest.raises(ValueError, match="not a multiple" if not on_grid else "is negative"):
            grid.level_units(text)
        assert text not in grid.level_cache  # failures are never cached


def test_a_negative_amount_cached_elsewhere_is_still_refused_in_market_data() -> None:
    grid = Grid("0.001")
    assert grid.units("-0.010") == -10  # e.g. a short position amount
    with pytest.raises(ValueError, match="is negative; market-data"):
        grid.level_units("-0.010")


def _depth_frame(bids: str, asks: str = "[]") -> bytes:
    return (
        b'{"stream":"btcusdt@depth","data":{"e":"depthUpdate","E":5,"T":4,"s":"BTCUSDT","U":1,"u":2,"pu":0,'
        + f'"b":{bids},"a":{asks}}}}}'.encode()
    )


@pytest.mark.parametrize(
    "bids",
    [
        '[["61800.30","0.010"],["61800.40","1.500"]]',  # as Binance writes it
        '[ ["61800.30", "0.010"], ["61800.40","1.5"] ]',  # other spacing, fewer decimals
        '[["61800.3\\u0030","0.010"],["61800.40","1.50"]]',  # an escape inside a string
        '[["61800.30","0.010"],["0061800.40","1.500"]]',  # leading zeros are still the same number
    ],
)
def test_depth_levels_decode_the_same_however_written(bids: str, rules: dict[str, SymbolRules]) -> None:
    ev = decode_stream_message(_depth_frame(bids, '[["61801.00","2.000"]]'), rules)
    assert ev == DepthUpdate("BTCUSDT", 1, 2, 0, ((618003, 10), (618004, 1500)), ((618010, 2000),), 5, 4)


BAD_SCHEMA = r"'depthUpdate' does not match its schema.*data\.b"


@pytest.mark.parametrize(
    ("bids", "why"),
    [
        ('[["61800.35","0.010"]]', "not a multiple of 0.10"),  # off the tick grid
        ('[["61800.30","0.0105"]]', "not a multiple of 0.001"),  # off the lot grid
        ('[["61800.30","0.010","1"]]', BAD_SCHEMA),  # three elements
        ('[["61800.30","0.010"],["1.0"]]', BAD_SCHEMA),  # one element
        ('[["61800.30",0.010]]', BAD_SCHEMA),  # a number, not a string
        ('[["61800.30","0.010"],["1","2","3","4"]]', BAD_SCHEMA),
        ('[["-61800.30","0.010"]]', "is negative; market-data"),
        ('[["61800.30","-0.010"]]', "is negative; market-data"),
        ('[["6e4","0.010"]]', "not a plain decimal"),
        ('{"61800.30":"0.010"}', BAD_SCHEMA),
    ],
)
def test_bad_depth_levels_are_malformed_and_named(bids: str, why: str, rules: dict[str, SymbolRules]) -> None:
    with pytest.raises(MalformedMessage, match=why):
        decode_stream_message(_depth_frame(bids), rules)


def test_snapshot_bytes_and_dict_decode_the_same() -> None:
    r = btcusdt_rules()
    body = {"lastUpdateId": 9, "E": 1, "T": 2, "bids": [["61800.30", "0.010"], ["61800.20", "3"]],
            "asks": [["61800.40", "0.5"]]}
    fast = parse_depth_snapshot(json.dumps(body, separators=(",", ":")).encode(), "BTCUSDT", r)
    assert fast == parse_depth_snapshot(body, "BTCUSDT", r)
    assert fast.bids == ((618003, 10), (618002, 3000)) and fast.asks == ((618004, 500),)


@pytest.mark.parametrize("symbol", ["BTCUSDT", "ETHUSDT"])
def test_capture_depth_levels_equal_a_decimal_reference(symbol: str, rules: dict[str, SymbolRules]) -> None:
    """Every 7th depth diff of the capture, level by level, against json + Decimal division."""
    r = rules[symbol]
    checked = 0
    for i, (_, payload) in enumerate(capture_lines(symbol)):
        if i % 7 or b"@depth" not in payload[:40]:
            continue
        ev = decode_stream_message(payload, rules)
        data = json.loads(payload)["data"]
        for got, want in ((ev.bids, data["b"]), (ev.asks, data["a"])):  # type: ignore[union-attr]
            assert got == tuple(
                (int(Decimal(p) / r.tick_size), int(Decimal(q) / r.step_size)) for p, q in want
            )
        checked += 1
    assert checked > 500
