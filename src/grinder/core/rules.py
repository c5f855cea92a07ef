"""`SymbolRules`: one symbol's exchangeInfo filters as exact integer tick/lot arithmetic.

Prices inside GRINDER are integers in ticks (price / tickSize) and quantities integers in lots
(qty / stepSize). Decimal strings exist only at the wire. The validator returns the same error
code and message Binance gives, in Binance's precedence: precision, PRICE_FILTER, LOT_SIZE /
MARKET_LOT_SIZE, PERCENT_PRICE, MIN_NOTIONAL (protocol sheet §6, §13).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from grinder.core.enums import OrderType, Side
from grinder.core.errors import ErrorCode

_ZERO = Decimal(0)


class OrderRuleError(Exception):
    """An order that Binance would refuse, with Binance's code and message."""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(f"{code} {msg}")
        self.code = code
        self.msg = msg


# Binance's messages for filter failures (protocol sheet §6.3).
MSG_BAD_PRECISION = "Precision is over the maximum defined for this asset."
MSG_PRICE_LT_ZERO = "Price less than 0."
MSG_PRICE_LT_MIN = "Price less than min price."
MSG_PRICE_GT_MAX = "Price greater than max price."
MSG_PRICE_TICK = "Price not increased by tick size."
MSG_QTY_LE_ZERO = "Quantity less than or equal to zero."
MSG_QTY_LT_MIN = "Quantity less than min quantity."
MSG_QTY_GT_MAX = "Quantity greater than max quantity."
MSG_QTY_STEP = "Qty not increased by step size."
MSG_PERCENT_UP = "Price is higher than mark price multiplier cap."
MSG_PERCENT_DOWN = "Price is lower than mark price multiplier floor."
MSG_MARKET_PERCENT = "The counterparty's best price does not meet the PERCENT_PRICE filter limit"


def mandatory_param_message(name: str) -> str:
    """Binance's -1102 text for a missing, empty or malformed parameter."""
    return f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."


def param_not_required_message(name: str) -> str:
    """Binance's -1106 text for a parameter that must not be sent."""
    return f"Parameter '{name}' sent when not required."


def min_notional_message(min_notional: Decimal) -> str:
    return (
        f"Order's notional must be no smaller than {format_decimal(min_notional)} "
        "(unless you choose reduce only)"
    )


def format_decimal(value: Decimal) -> str:
    """Plain (non-scientific) string without trailing zeros: Decimal('100.00') -> '100'."""
    text = format(value.normalize(), "f")
    return text


def decimal_places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def to_decimal(value: str | int | Decimal, what: str = "value") -> Decimal:
    """Parse a wire number exactly; raises ValueError naming the field on garbage."""
    if isinstance(value, Decimal):
        result = value
    else:
        try:
            result = Decimal(value)
        except (InvalidOperation, ValueError, TypeError):
            raise ValueError(f"{what} {value!r} is not a decimal number") from None
    if not result.is_finite():
        raise ValueError(f"{what} {value!r} is not a finite number")
    return result


@dataclass(frozen=True, slots=True)
class SymbolRules:
    """Trading rules for one symbol. Build with `from_exchange_info` or directly in tests."""

    symbol: str
    tick_size: Decimal
    step_size: Decimal
    min_price: Decimal = _ZERO
    max_price: Decimal = _ZERO  # 0 = not enforced
    min_qty: Decimal = _ZERO
    max_qty: Decimal = _ZERO
    market_step_size: Decimal | None = None  # None = same as LOT_SIZE
    market_min_qty: Decimal | None = None
    market_max_qty: Decimal | None = None
    min_notional: Decimal = _ZERO
    multiplier_up: Decimal = _ZERO  # 0 = PERCENT_PRICE not enforced
    multiplier_down: Decimal = _ZERO
    multiplier_decimal: int = 4
    max_num_orders: int = 200
    price_precision: int | None = None  # None = derived from tick size
    quantity_precision: int | None = None  # None = derived from step size
    base_asset: str = ""
    quote_asset: str = "USDT"
    margin_asset: str = "USDT"
    status: str = "TRADING"
    # Derived integer constants, filled in __post_init__.
    _price_dp: int = field(init=False, repr=False, compare=False, default=0)
    _qty_dp: int = field(init=False, repr=False, compare=False, default=0)
    _min_notional_units: int = field(init=False, repr=False, compare=False, default=0)

    def __post_init__(self) -> None:
        if self.tick_size <= 0:
            raise ValueError(f"{self.symbol}: PRICE_FILTER tickSize must be > 0 (got {self.tick_size})")
        if self.step_size <= 0:
            raise ValueError(f"{self.symbol}: LOT_SIZE stepSize must be > 0 (got {self.step_size})")
        if self.min_price % self.tick_size != 0:
            raise ValueError(
                f"{self.symbol}: minPrice {self.min_price} is not a multiple of tickSize {self.tick_size}; "
                "GRINDER needs the price grid to start at 0"
            )
        mstep = self.market_step_size
        if mstep is not None and (mstep <= 0 or mstep % self.step_size != 0):
            raise ValueError(
                f"{self.symbol}: MARKET_LOT_SIZE stepSize {mstep} must be a positive multiple of "
                f"LOT_SIZE stepSize {self.step_size}"
            )
        pdp = self.price_precision if self.price_precision is not None else decimal_places(self.tick_size)
        qdp = (
            self.quantity_precision
            if self.quantity_precision is not None
            else decimal_places(self.step_size)
        )
        object.__setattr__(self, "_price_dp", max(pdp, decimal_places(self.tick_size.normalize())))
        object.__setattr__(self, "_qty_dp", max(qdp, decimal_places(self.step_size.normalize())))
        unit = self.tick_size * self.step_size
        object.__setattr__(
            self,
            "_min_notional_units",
            int((self.min_notional / unit).to_integral_value(rounding=ROUND_CEILING)),
        )

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_exchange_info(cls, symbol_info: Mapping[str, Any]) -> SymbolRules:
        """Build from one element of exchangeInfo `symbols[]`."""
        symbol = str(symbol_info.get("symbol", ""))
        filters = {f["filterType"]: f for f in symbol_info.get("filters", [])}
        if "PRICE_FILTER" not in filters or "LOT_SIZE" not in filters:
            raise ValueError(f"exchangeInfo for {symbol or '?'} lacks PRICE_FILTER or LOT_SIZE")
        pf, lot = filters["PRICE_FILTER"], filters["LOT_SIZE"]
        mlot = filters.get("MARKET_LOT_SIZE")
        notional = filters.get("MIN_NOTIONAL", {})
        pct = filters.get("PERCENT_PRICE", {})
        mno = filters.get("MAX_NUM_ORDERS", {})
        return cls(
            symbol=symbol,
            tick_size=to_decimal(pf["tickSize"], "tickSize"),
            min_price=to_decimal(pf.get("minPrice", "0"), "minPrice"),
            max_price=to_decimal(pf.get("maxPrice", "0"), "maxPrice"),
            step_size=to_decimal(lot["stepSize"], "stepSize"),
            min_qty=to_decimal(lot.get("minQty", "0"), "minQty"),
            max_qty=to_decimal(lot.get("maxQty", "0"), "maxQty"),
            market_step_size=to_decimal(mlot["stepSize"], "stepSize") if mlot else None,
            market_min_qty=to_decimal(mlot["minQty"], "minQty") if mlot else None,
            market_max_qty=to_decimal(mlot["maxQty"], "maxQty") if mlot else None,
            min_notional=to_decimal(notional.get("notional", "0"), "notional"),
            multiplier_up=to_decimal(pct.get("multiplierUp", "0"), "multiplierUp"),
            multiplier_down=to_decimal(pct.get("multiplierDown", "0"), "multiplierDown"),
            multiplier_decimal=int(pct.get("multiplierDecimal", 4)),
            max_num_orders=int(mno.get("limit", 200)),
            price_precision=int(symbol_info["pricePrecision"]) if "pricePrecision" in symbol_info else None,
            quantity_precision=(
                int(symbol_info["quantityPrecision"]) if "quantityPrecision" in symbol_info else None
            ),
            base_asset=str(symbol_info.get("baseAsset", "")),
            quote_asset=str(symbol_info.get("quoteAsset", "USDT")),
            margin_asset=str(symbol_info.get("marginAsset", "USDT")),
            status=str(symbol_info.get("status", "TRADING")),
        )

    def to_filters(self) -> list[dict[str, Any]]:
        """The exchangeInfo `filters[]` list these rules came from (numbers as strings)."""
        mstep = self.market_step_size or self.step_size
        mmin = self.market_min_qty if self.market_min_qty is not None else self.min_qty
        mmax = self.market_max_qty if self.market_max_qty is not None else self.max_qty
        return [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": str(self.min_price),
                "maxPrice": str(self.max_price),
                "tickSize": str(self.tick_size),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": str(self.min_qty),
                "maxQty": str(self.max_qty),
                "stepSize": str(self.step_size),
            },
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": str(mmin),
                "maxQty": str(mmax),
                "stepSize": str(mstep),
            },
            {"filterType": "MAX_NUM_ORDERS", "limit": self.max_num_orders},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
            {"filterType": "MIN_NOTIONAL", "notional": str(self.min_notional)},
            {
                "filterType": "PERCENT_PRICE",
                "multiplierUp": str(self.multiplier_up),
                "multiplierDown": str(self.multiplier_down),
                "multiplierDecimal": str(self.multiplier_decimal),
            },
        ]

    @property
    def effective_price_precision(self) -> int:
        return self._price_dp

    @property
    def effective_quantity_precision(self) -> int:
        return self._qty_dp

    @property
    def min_notional_units(self) -> int:
        """MIN_NOTIONAL in (tick × step) units: an order passes iff price_ticks × qty_lots ≥ this."""
        return self._min_notional_units

    # ----------------------------------------------------------------- conversions
    def price_to_ticks(self, price: Decimal | str) -> int:
        """Exact conversion; raises ValueError if the price is not on the tick grid."""
        return self._exact_units(price, "price", self.tick_size, "tickSize")

    def qty_to_lots(self, qty: Decimal | str) -> int:
        """Exact conversion; raises ValueError if the quantity is not on the step grid."""
        return self._exact_units(qty, "quantity", self.step_size, "stepSize")

    def _exact_units(self, value: Decimal | str, what: str, unit: Decimal, filter_name: str) -> int:
        v = to_decimal(value, what)
        units, rem = divmod(v, unit)
        if rem != 0:
            raise ValueError(f"{self.symbol}: {what} {v} is not a multiple of {filter_name} {unit}")
        return int(units)

    def ticks_to_price(self, ticks: int) -> Decimal:
        return (self.tick_size * ticks).quantize(Decimal(1).scaleb(-self._price_dp))

    def lots_to_qty(self, lots: int) -> Decimal:
        return (self.step_size * lots).quantize(Decimal(1).scaleb(-self._qty_dp))

    def price_str(self, ticks: int) -> str:
        """Wire form of a tick price, with exactly the symbol's price precision."""
        return format(self.ticks_to_price(ticks), "f")

    def qty_str(self, lots: int) -> str:
        return format(self.lots_to_qty(lots), "f")

    def floor_ticks(self, price: Decimal | str) -> int:
        return int((to_decimal(price, "price") / self.tick_size).to_integral_value(rounding=ROUND_FLOOR))

    def ceil_ticks(self, price: Decimal | str) -> int:
        return int((to_decimal(price, "price") / self.tick_size).to_integral_value(rounding=ROUND_CEILING))

    def nearest_ticks(self, price: Decimal | str) -> int:
        return int((to_decimal(price, "price") / self.tick_size).to_integral_value(rounding=ROUND_HALF_EVEN))

    def floor_lots(self, qty: Decimal | str) -> int:
        return int((to_decimal(qty, "quantity") / self.step_size).to_integral_value(rounding=ROUND_FLOOR))

    def ceil_lots(self, qty: Decimal | str) -> int:
        return int((to_decimal(qty, "quantity") / self.step_size).to_integral_value(rounding=ROUND_CEILING))

    def round_price(self, price: Decimal | str, mode: str = "nearest") -> Decimal:
        """Round a price to the tick grid: mode is 'floor', 'ceil' or 'nearest'."""
        fn = {"floor": self.floor_ticks, "ceil": self.ceil_ticks, "nearest": self.nearest_ticks}[mode]
        return self.ticks_to_price(fn(price))

    def round_qty(self, qty: Decimal | str, mode: str = "floor") -> Decimal:
        fn = {"floor": self.floor_lots, "ceil": self.ceil_lots}[mode]
        return self.lots_to_qty(fn(qty))

    def notional(self, price_ticks: int, qty_lots: int) -> Decimal:
        return self.tick_size * self.step_size * price_ticks * qty_lots

    def min_lots_for_notional(self, price_ticks: int) -> int:
        """Smallest lot count (≥ minQty) whose notional at this price meets MIN_NOTIONAL."""
        if price_ticks <= 0:
            raise ValueError(
                f"{self.symbol}: price must be positive to size an order (got {price_ticks} ticks)"
            )
        need = -(-self._min_notional_units // price_ticks)
        min_lots = self.ceil_lots(self.min_qty) if self.min_qty > 0 else 1
        return max(need, min_lots, 1)

    # ----------------------------------------------------------------- validation
    def validate_order(
        self,
        side: Side,
        order_type: OrderType,
        quantity: Decimal | str,
        price: Decimal | str | None = None,
        *,
        mark_price: Decimal | None = None,
        reduce_only: bool = False,
    ) -> None:
        """Raise `OrderRuleError` with Binance's code/message if Binance would refuse the order."""
        qty = to_decimal(quantity, "quantity")
        if decimal_places(qty.normalize()) > self._qty_dp:
            raise OrderRuleError(ErrorCode.BAD_PRECISION, MSG_BAD_PRECISION)
        if order_type is OrderType.LIMIT:
            if price is None:
                missing = mandatory_param_message("price")
                raise OrderRuleError(ErrorCode.MANDATORY_PARAM_EMPTY_OR_MALFORMED, missing)
            px = to_decimal(price, "price")
            if decimal_places(px.normalize()) > self._price_dp:
                raise OrderRuleError(ErrorCode.BAD_PRECISION, MSG_BAD_PRECISION)
            self._check_price_filter(px)
        if qty <= 0:
            raise OrderRuleError(ErrorCode.QTY_LESS_THAN_ZERO, MSG_QTY_LE_ZERO)
        self._check_lot(order_type, qty)
        if order_type is OrderType.LIMIT:
            px = to_decimal(price, "price")  # type: ignore[arg-type]
            if mark_price is not None:
                self._check_percent_price(side, px, mark_price)
            if not reduce_only and px * qty < self.min_notional:
                raise OrderRuleError(ErrorCode.MIN_NOTIONAL, min_notional_message(self.min_notional))
        elif mark_price is not None and not reduce_only and mark_price * qty < self.min_notional:
            raise OrderRuleError(ErrorCode.MIN_NOTIONAL, min_notional_message(self.min_notional))

    def validate_ticks(
        self,
        side: Side,
        order_type: OrderType,
        qty_lots: int,
        price_ticks: int | None = None,
        *,
        mark_price: Decimal | None = None,
        reduce_only: bool = False,
    ) -> None:
        """`validate_order` for integer prices/quantities (precision is implied by the grid)."""
        self.validate_order(
            side,
            order_type,
            self.lots_to_qty(qty_lots),
            None if price_ticks is None else self.ticks_to_price(price_ticks),
            mark_price=mark_price,
            reduce_only=reduce_only,
        )

    def _check_price_filter(self, px: Decimal) -> None:
        if px <= 0:
            raise OrderRuleError(ErrorCode.PRICE_LESS_THAN_ZERO, MSG_PRICE_LT_ZERO)
        if self.min_price > 0 and px < self.min_price:
            raise OrderRuleError(ErrorCode.PRICE_LESS_THAN_MIN_PRICE, MSG_PRICE_LT_MIN)
        if self.max_price > 0 and px > self.max_price:
            raise OrderRuleError(ErrorCode.PRICE_GREATER_THAN_MAX_PRICE, MSG_PRICE_GT_MAX)
        if (px - self.min_price) % self.tick_size != 0:
            raise OrderRuleError(ErrorCode.PRICE_NOT_INCREASED_BY_TICK_SIZE, MSG_PRICE_TICK)

    def _check_lot(self, order_type: OrderType, qty: Decimal) -> None:
        if order_type is OrderType.MARKET and self.market_step_size is not None:
            step = self.market_step_size
            lo = self.market_min_qty if self.market_min_qty is not None else self.min_qty
            hi = self.market_max_qty if self.market_max_qty is not None else self.max_qty
        else:
            step, lo, hi = self.step_size, self.min_qty, self.max_qty
        if lo > 0 and qty < lo:
            raise OrderRuleError(ErrorCode.QTY_LESS_THAN_MIN_QTY, MSG_QTY_LT_MIN)
        if hi > 0 and qty > hi:
            raise OrderRuleError(ErrorCode.QTY_GREATER_THAN_MAX_QTY, MSG_QTY_GT_MAX)
        if (qty - lo) % step != 0:
            raise OrderRuleError(ErrorCode.QTY_NOT_INCREASED_BY_STEP_SIZE, MSG_QTY_STEP)

    def _check_percent_price(self, side: Side, px: Decimal, mark: Decimal) -> None:
        if self.multiplier_up > 0 and side is Side.BUY and px > mark * self.multiplier_up:
            raise OrderRuleError(ErrorCode.PRICE_HIGHER_THAN_MULTIPLIER_UP, MSG_PERCENT_UP)
        if self.multiplier_down > 0 and side is Side.SELL and px < mark * self.multiplier_down:
            raise OrderRuleError(ErrorCode.PRICE_LOWER_THAN_MULTIPLIER_DOWN, MSG_PERCENT_DOWN)

    def check_market_percent_price(self, side: Side, best_price: Decimal, mark: Decimal) -> None:
        """MARKET orders: the counterparty's best price must sit inside PERCENT_PRICE (-4131)."""
        if side is Side.BUY and self.multiplier_up > 0 and best_price > mark * self.multiplier_up:
            raise OrderRuleError(ErrorCode.MARKET_ORDER_REJECT, MSG_MARKET_PERCENT)
        if side is Side.SELL and self.multiplier_down > 0 and best_price < mark * self.multiplier_down:
            raise OrderRuleError(ErrorCode.MARKET_ORDER_REJECT, MSG_MARKET_PERCENT)


def _typical_perp_rules(
    symbol: str,
    tick: str,
    min_price: str,
    max_price: str,
    max_qty: str,
    market_max_qty: str,
    min_notional: str,
) -> SymbolRules:
    """USDⓈ-M perpetual rules of the usual shape: step 0.001, ±5 % PERCENT_PRICE, 200 open orders."""
    return SymbolRules(
        symbol=symbol,
        tick_size=Decimal(tick),
        min_price=Decimal(min_price),
        max_price=Decimal(max_price),
        step_size=Decimal("0.001"),
        min_qty=Decimal("0.001"),
        max_qty=Decimal(max_qty),
        market_step_size=Decimal("0.001"),
        market_min_qty=Decimal("0.001"),
        market_max_qty=Decimal(market_max_qty),
        min_notional=Decimal(min_notional),
        multiplier_up=Decimal("1.0500"),
        multiplier_down=Decimal("0.9500"),
        multiplier_decimal=4,
        max_num_orders=200,
        price_precision=2,
        quantity_precision=3,
        base_asset=symbol.removesuffix("USDT"),
    )


def btcusdt_rules(min_notional: str = "100") -> SymbolRules:
    """Typical BTCUSDT perpetual rules (tick 0.10, step 0.001): tests, demos and the simulator default."""
    return _typical_perp_rules("BTCUSDT", "0.10", "556.80", "4529764", "1000", "120", min_notional)


def ethusdt_rules(min_notional: str = "20") -> SymbolRules:
    """Typical ETHUSDT perpetual rules (tick 0.01, step 0.001)."""
    return _typical_perp_rules("ETHUSDT", "0.01", "39.86", "306177", "10000", "2000", min_notional)
