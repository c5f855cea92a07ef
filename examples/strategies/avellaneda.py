"""An Avellaneda–Stoikov style quoter: one bid and one ask around an inventory-skewed reservation price.

    reservation = mid − q · γ · σ² · T              (q: position in order sizes, σ²: mid variance rate)
    half spread = γ · σ² · T / 2 + ln(1 + γ / κ) / γ   (never under min_half_spread_bps)

all in basis points of the mid, turned into whole ticks once per decision. σ² is an exponentially
time-decayed sum of squared mid log-returns. A long position lowers both quotes (sell sooner, buy
later) and a short one raises them; at max_position_orders the side that would grow it is dropped.

The answer is re-decided when the mid moves `requote_bps`, the book comes within one tick of a
quote, the position changes, or `requote_ms` passes; in between it is the same object, which the
strategy promises with a `QuietBand` (so the run skips the order diff for those events).

Run it:  grinder backtest --strategy examples.strategies.avellaneda:make \
             --data ../shared/data/binance_usdm_capture/btcusdt_20240808.gz
Settings come from `[strategy.params]` (names and defaults in `Params`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from grinder.api import (
    EMPTY_BAND,
    BookTicker,
    DesiredQuote,
    Fill,
    MarketEvent,
    QuietBand,
    QuoteSet,
    Side,
    StrategyContext,
    SymbolRules,
)

INT_MIN, INT_MAX = -(2**63), 2**63 - 1


def _number(value: Any, kind: str) -> Any:
    """A TOML value as `kind` ("float", "int" or "Decimal"); TypeError/ValueError when it is not one."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError
    if kind == "Decimal":
        number = Decimal(str(value))
        if not number.is_finite():
            raise ValueError
        return number
    if isinstance(value, str) or not math.isfinite(value):
        raise TypeError
    if kind == "int" and value != int(value):
        raise TypeError
    return int(value) if kind == "int" else float(value)


_KIND = {"float": "a number", "int": "an integer", "Decimal": "a decimal number"}


@dataclass(frozen=True)
class Params:
    risk_aversion: float = 0.1  # γ, per order size of inventory
    kappa: float = 0.5  # κ, how fast the chance of a fill falls with distance (per bps)
    horizon_s: float = 30.0  # T
    vol_halflife_s: float = 30.0  # σ² estimator memory
    prior_vol_bps: float = 0.5  # σ (bps per √s) before the market has said anything
    min_half_spread_bps: float = 2.5  # at least a maker fee plus a little on each side
    order_notional: Decimal = Decimal("110")  # quote-asset size of each order (≥ the exchange minimum)
    max_position_orders: int = 5  # inventory cap, in order sizes
    requote_bps: float = 1.0
    requote_ms: int = 1000

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any] | None) -> Params:
        """From `[strategy.params]`; an unknown name, a wrong type or a value out of range is a
        ValueError naming the key and what it accepts."""
        known = {f.name: str(f.type) for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in (raw or {}).items():
            if key not in known:
                raise ValueError(f"[strategy.params] unknown key {key!r}; accepted: {', '.join(known)}")
            try:
                kwargs[key] = _number(value, known[key])
            except (ArithmeticError, TypeError, ValueError):
                raise ValueError(
                    f"[strategy.params] {key} = {value!r} is not {_KIND[known[key]]}; give e.g. "
                    f"{key} = {getattr(cls, key)}"
                ) from None
        params = cls(**kwargs)
        for key, ok, rule in (
            ("risk_aversion", params.risk_aversion > 0, "> 0"),
            ("kappa", params.kappa > 0, "> 0"),
            ("horizon_s", params.horizon_s > 0, "> 0"),
            ("vol_halflife_s", params.vol_halflife_s > 0, "> 0"),
            ("prior_vol_bps", params.prior_vol_bps >= 0, ">= 0"),
            ("min_half_spread_bps", params.min_half_spread_bps >= 0, ">= 0"),
            ("order_notional", params.order_notional > 0, "> 0"),
            ("max_position_orders", params.max_position_orders >= 1, ">= 1"),
            ("requote_bps", params.requote_bps > 0, "> 0"),
            ("requote_ms", params.requote_ms >= 1, ">= 1"),
        ):
            if not ok:
                value = getattr(params, key)
                raise ValueError(f"[strategy.params] {key} = {value} is out of range; it must be {rule}")
        return params


class AvellanedaStoikov:
    """`grinder.api.Strategy` with the optional quiet band."""

    def __init__(self, symbol: str, rules: SymbolRules, params: Params) -> None:
        self.symbol, self.rules, self.p = symbol, rules, params
        self.bid = self.ask = 0
        self._last_mid = 0.0
        self._last_ms = 0
        self._tau_s = params.vol_halflife_s / math.log(2)
        self._sq_sum = params.prior_vol_bps**2 * self._tau_s  # Σ r² over ~τ seconds ≈ σ² τ
        self._qs = QuoteSet(symbol, (), "AS", "NO_BOOK")
        self._band = EMPTY_BAND  # decide on the first call
        self.fills = 0
        self.decisions = 0

    def on_event(self, ev: MarketEvent) -> None:
        if not isinstance(ev, BookTicker) or ev.bid_ticks <= 0 or ev.ask_ticks <= ev.bid_ticks:
            return
        self.bid, self.ask = ev.bid_ticks, ev.ask_ticks
        mid, t = (ev.bid_ticks + ev.ask_ticks) / 2, ev.transaction_time_ms
        if self._last_mid:
            dt_s = max(0, t - self._last_ms) / 1000
            r_bps = math.log(mid / self._last_mid) * 1e4
            self._sq_sum = self._sq_sum * math.exp(-dt_s / self._tau_s) + r_bps * r_bps
        self._last_mid, self._last_ms = mid, max(t, self._last_ms)

    def on_fill(self, fill: Fill) -> None:
        self.fills += 1  # the position itself comes with the next desired_quotes call

    def quiet_band(self) -> QuietBand:
        return self._band

    def stats(self) -> dict[str, float | int]:
        return {"decisions": self.decisions, "fills": self.fills, "vol_bps": round(self.vol_bps, 4)}

    @property
    def vol_bps(self) -> float:
        """σ, bps per √second."""
        return math.sqrt(self._sq_sum / self._tau_s)

    def desired_quotes(self, position_lots: int, now_ms: int) -> QuoteSet:
        band = self._band
        if band.position_lots == position_lots and band.contains(self.bid, self.ask, now_ms):
            return self._qs
        if self.bid <= 0:
            return self._qs
        self.decisions += 1
        p, mid = self.p, (self.bid + self.ask) / 2
        size = max(self.rules.min_lots_for_notional(self.ask),
                   self.rules.ceil_lots(p.order_notional / self.rules.ticks_to_price(self.ask)))
        q = position_lots / size
        var_t = self.vol_bps**2 * p.horizon_s
        skew_bps = q * p.risk_aversion * var_t
        g = p.risk_aversion
        half_bps = max(p.min_half_spread_bps, g * var_t / 2 + math.log(1 + g / p.kappa) / g)
        ticks_per_bps = mid / 1e4
        reservation = mid - skew_bps * ticks_per_bps
        buy = min(math.floor(reservation - half_bps * ticks_per_bps), self.bid)  # never cross: maker only
        sell = max(math.ceil(reservation + half_bps * ticks_per_bps), self.ask)
        cap = p.max_position_orders * size
        quotes = []
        if position_lots + size <= cap and buy > 0:
            quotes.append(DesiredQuote(self.symbol, Side.BUY, buy, size, "b1", True))
        if position_lots - size >= -cap:
            quotes.append(DesiredQuote(self.symbol, Side.SELL, sell, size, "s1", True))
        reason = "QUOTING" if quotes else "CAPPED"
        self._qs = QuoteSet(self.symbol, tuple(quotes), "AS", reason, round(reservation))
        m2, move = self.bid + self.ask, max(1, round(2 * p.requote_bps * ticks_per_bps))
        self._band = QuietBand(m2 - move + 1, m2 + move - 1, INT_MIN, sell - 1, buy + 1, INT_MAX,
                               INT_MAX, now_ms + p.requote_ms, position_lots, True)
        return self._qs


def make(ctx: StrategyContext) -> AvellanedaStoikov:
    """The factory (`--strategy examples.strategies.avellaneda:make`): `ctx.config` is [strategy.params]."""
    return AvellanedaStoikov(ctx.symbol, ctx.rules, Params.from_mapping(ctx.config))
