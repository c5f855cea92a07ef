"""Exact, fast decimal-string → integer-grid conversion for the hot path (ticks and lots).

`Grid("0.10").units("61800.30")` is 618003 without building a Decimal: the string is scaled to an
integer by padding its fraction, then divided by the integer step. Off-grid values and garbage raise
`ValueError` naming the value; they are never rounded silently.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from grinder.core.rules import SymbolRules, decimal_places

CACHE_LIMIT = 1 << 12  # entries per grid per cache (ADR-113): ~0.5 MiB, reached in minutes


def _remember(cache: dict[str, int], text: str, value: int) -> int:
    """Cache a successful conversion (the cache starts over once it holds CACHE_LIMIT entries)."""
    if len(cache) >= CACHE_LIMIT:
        cache.clear()
    cache[text] = value
    return value


class Grid:
    """One price or quantity grid (a tick size or a step size)."""

    __slots__ = ("cache", "dp", "level_cache", "step", "step_units", "what")

    def __init__(self, step: Decimal | str, what: str = "value") -> None:
        step_dec = Decimal(step)
        if step_dec <= 0:
            raise ValueError(f"grid step must be positive (got {step})")
        self.step = step_dec
        self.dp = decimal_places(step_dec.normalize())
        self.step_units = int(step_dec.scaleb(self.dp))
        self.what = what
        # Wire strings repeat a lot (the same price levels, the same lot sizes): remember the
        # conversions. Only successful conversions are cached; the cache is bounded.
        self.cache: dict[str, int] = {}
        # Market-data levels (depth levels, best bid/ask, trades): the same conversion, but only
        # values >= 0 ever enter, so a hit needs no sign check. Position amounts, which may be
        # negative, go through `units` and `cache`.
        self.level_cache: dict[str, int] = {}

    def units(self, text: str) -> int:
        """Exact number of steps in `text`; ValueError if off-grid or not a plain decimal."""
        cached = self.cache.get(text)
        if cached is not None:
            return cached
        return _remember(self.cache, text, self._convert(text))

    def level_units(self, text: str) -> int:
        """`units` for a market-data price or quantity: also ValueError if negative (cached in
        `level_cache`)."""
        cached = self.level_cache.get(text)
        if cached is not None:
            return cached
        value = self._convert(text)
        if value < 0:
            raise ValueError(f"{self.what} {text!r} is negative; market-data prices and quantities never are")
        return _remember(self.level_cache, text, value)

    def _convert(self, text: str) -> int:
        dot = text.find(".")
        dp = self.dp
        if dot < 0:
            whole, frac = text, ""
        else:
            whole, frac = text[:dot], text[dot + 1 :]
        flen = len(frac)
        if flen > dp:
            extra = frac[dp:]
            if extra.strip("0"):
                raise ValueError(f"{self.what} {text!r} is not a multiple of {self.step}")
            frac = frac[:dp]
        elif flen < dp:
            frac = frac + "0" * (dp - flen)
        digits = whole + frac
        if (
            not whole
            or whole == "-"
            or "_" in digits
            or not (digits.isdigit() or (digits[0] == "-" and digits[1:].isdigit()))
        ):
            raise ValueError(f"{self.what} {text!r} is not a plain decimal number")
        scaled = int(digits)
        q, r = divmod(scaled, self.step_units)
        if r:
            raise ValueError(f"{self.what} {text!r} is not a multiple of {self.step}")
        return q

    def nearest_units(self, text: str) -> int:
        """Round half-even to the grid (for values Binance itself may put off-grid)."""
        value = Decimal(text)
        return int((value / self.step).to_integral_value(rounding=ROUND_HALF_EVEN))


class SymbolGrids:
    """Price and quantity grids of one symbol, cached per `SymbolRules` object."""

    __slots__ = ("price", "qty", "rules")

    def __init__(self, rules: SymbolRules) -> None:
        self.rules = rules
        self.price = Grid(rules.tick_size, f"{rules.symbol} price")
        self.qty = Grid(rules.step_size, f"{rules.symbol} quantity")


_CACHE: dict[int, SymbolGrids] = {}


def grids_for(rules: SymbolRules) -> SymbolGrids:
    """The (cached) grids of a rules object; keyed by identity, revalidated against it."""
    cached = _CACHE.get(id(rules))
    if cached is not None and cached.rules is rules:
        return cached
    grids = SymbolGrids(rules)
    if len(_CACHE) > 4096:
        _CACHE.clear()
    _CACHE[id(rules)] = grids
    return grids
