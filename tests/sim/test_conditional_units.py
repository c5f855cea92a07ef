"""The venue's conditional orders without sockets: trigger direction per kind, trailing stops,
priceProtect, closePosition, and the rejections Binance gives at placement."""

from __future__ import annotations

from decimal import Decimal

import pytest

from grinder.core.enums import OrderType, PositionSide, Side
from grinder.core.events import BookTicker, MarkPrice, Trade
from grinder.core.rules import btcusdt_rules
from grinder.venue import Venue, VenueConfig, VenueReject
from grinder.venue.conditional import AlgoKind, AlgoRequest, AlgoStatus, WorkingType

T0 = 1_800_000_000_000


class Market:
    """A one-symbol venue quoted at a price (one-tick spread) with trades and marks on demand."""

    def __init__(self) -> None:
        self.rules = btcusdt_rules()
        self.venue = Venue(VenueConfig(), {"BTCUSDT": self.rules})
        self.t = T0
        self.trade_id = 0
        self.at(Decimal(60000))

    def at(self, price: Decimal, *, mark: Decimal | None = None, trade: bool = True) -> None:
        self.t += 100
        ticks = self.rules.price_to_ticks(price)
        self.venue.on_book_ticker(
            BookTicker("BTCUSDT", ticks - 1, 10**6, ticks + 1, 10**6, self.t, self.t, self.t)
        )
        if trade:
            self.trade_id += 1
            self.venue.on_trade(Trade("BTCUSDT", self.trade_id, ticks, 1, False, self.t, self.t))
        m = price if mark is None else mark
        self.venue.on_mark_price(MarkPrice("BTCUSDT", m, m, Decimal("0.0001"), 0, self.t))

    def place(self, kind: AlgoKind, side: Side, **fields: object) -> int:
        req = AlgoRequest(symbol="BTCUSDT", side=side, kind=kind, **fields)  # type: ignore[arg-type]
        return self.venue.conditional.place(req, self.t).algo_id

    def status(self, algo_id: int) -> AlgoStatus:
        return self.venue.conditional.find(algo_id, None, -2013, "Order does not exist.").status

    def position_lots(self) -> int:
        return sum(p.amount_lots for p in self.venue.positions("BTCUSDT"))


@pytest.mark.parametrize(
    ("kind", "side", "trigger", "holds", "fires"),
    [
        (AlgoKind.STOP_MARKET, Side.SELL, "59000", "59100", "58990"),
        (AlgoKind.STOP_MARKET, Side.BUY, "61000", "60900", "61010"),
        (AlgoKind.TAKE_PROFIT_MARKET, Side.SELL, "61000", "60900", "61000"),
        (AlgoKind.TAKE_PROFIT_MARKET, Side.BUY, "59000", "59100", "59000"),
    ],
)
def test_trigger_direction(kind: AlgoKind, side: Side, trigger: str, holds: str, fires: str) -> None:
    m = Market()
    algo = m.place(kind, side, quantity=Decimal("0.010"), trigger_price=Decimal(trigger))
    m.at(Decimal(holds))
    assert m.status(algo) is AlgoStatus.NEW
    m.at(Decimal(fires))
    updates = [u.status for u in m.venue.conditional.drain_updates()]
    assert updates == [AlgoStatus.NEW, AlgoStatus.TRIGGERING, AlgoStatus.TRIGGERED]
    assert [u.status for u in m.venue.conditional.settle()] == [AlgoStatus.FINISHED]
    assert m.position_lots() == (10 if side is Side.BUY else -10)


def test_mark_price_working_type_ignores_trades() -> None:
    m = Market()
    algo = m.place(AlgoKind.STOP_MARKET, Side.SELL, quantity=Decimal("0.010"), trigger_price=Decimal(59000),
                   working_type=WorkingType.MARK_PRICE)  # fmt: skip
    m.at(Decimal(58000), mark=Decimal(59500))  # the last trade passed it, the mark did not
    assert m.status(algo) is AlgoStatus.NEW
    m.at(Decimal(58000), mark=Decimal(58999))
    assert m.status(algo) in (AlgoStatus.TRIGGERED, AlgoStatus.FINISHED)


def test_price_protect_holds_the_trigger_while_mark_and_last_diverge() -> None:
    m = Market()
    algo = m.place(AlgoKind.STOP_MARKET, Side.SELL, quantity=Decimal("0.010"), trigger_price=Decimal(59000),
                   price_protect=True)  # fmt: skip
    m.at(Decimal(55000), mark=Decimal(59800))  # last 8 % under the mark: protected
    assert m.status(algo) is AlgoStatus.NEW
    m.at(Decimal(58900), mark=Decimal(59000))
    assert m.status(algo) is not AlgoStatus.NEW


def test_trailing_stop_activates_then_trails_the_high() -> None:
    m = Market()
    m.venue.new_order(symbol="BTCUSDT", side=Side.BUY, order_type=OrderType.MARKET, quantity=Decimal("0.010"),
                      now_ms=m.t)  # fmt: skip
    algo = m.place(AlgoKind.TRAILING_STOP_MARKET, Side.SELL, quantity=Decimal("0.010"), reduce_only=True,
                   activate_price=Decimal(60500), callback_rate=Decimal(1))  # fmt: skip
    m.at(Decimal(59000))  # -1.7 %, but not activated yet
    assert m.status(algo) is AlgoStatus.NEW
    for price in (60500, 61000, 60400):  # activated at 60500, high 61000, -0.98 %
        m.at(Decimal(price))
    assert m.status(algo) is AlgoStatus.NEW
    m.at(Decimal(60389))  # -1.002 % from 61000
    assert m.status(algo) is not AlgoStatus.NEW
    assert m.position_lots() == 0


def test_close_position_without_a_position_expires() -> None:
    m = Market()
    algo = m.place(AlgoKind.STOP_MARKET, Side.SELL, close_position=True, trigger_price=Decimal(59000))
    m.at(Decimal(58000))
    assert m.status(algo) is AlgoStatus.EXPIRED
    assert m.venue.open_orders() == [] and m.position_lots() == 0


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"kind": AlgoKind.STOP_MARKET, "quantity": Decimal("0.01"), "trigger_price": Decimal(61000)}, -2021),
        ({"kind": AlgoKind.TRAILING_STOP_MARKET, "quantity": Decimal("0.01"), "callback_rate": Decimal(1),
          "activate_price": Decimal(59000)}, -2021),
        ({"kind": AlgoKind.STOP, "quantity": Decimal("0.01"), "trigger_price": Decimal(59000)}, -1102),
        ({"kind": AlgoKind.STOP_MARKET, "close_position": True, "quantity": Decimal("0.01"),
          "trigger_price": Decimal(59000)}, -4137),
        ({"kind": AlgoKind.TRAILING_STOP_MARKET, "close_position": True, "callback_rate": Decimal(1)}, -4136),
        ({"kind": AlgoKind.STOP_MARKET, "quantity": Decimal("0.01"), "trigger_price": Decimal(59000),
          "position_side": PositionSide.LONG}, -4061),
        ({"kind": AlgoKind.STOP_MARKET, "quantity": Decimal("0.0101"), "trigger_price": Decimal(59000)}, -1111),
    ],
)  # fmt: skip
def test_placement_rejections(fields: dict[str, object], code: int) -> None:
    m = Market()
    kind = fields.pop("kind")
    with pytest.raises(VenueReject) as rejected:
        m.place(kind, Side.SELL, **fields)  # type: ignore[arg-type]
    assert rejected.value.code == code


def test_only_new_orders_cancel() -> None:
    m = Market()
    algo = m.place(AlgoKind.STOP_MARKET, Side.SELL, quantity=Decimal("0.010"), trigger_price=Decimal(59000))
    m.at(Decimal(58000))
    with pytest.raises(VenueReject) as rejected:
        m.venue.conditional.cancel(algo, None, m.t)
    assert rejected.value.code == -2011
