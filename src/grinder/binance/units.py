"""Exact, fast decimal-string → integer-grid conversion for the hot path (ticks and lots).

`Grid("0.10").units("61800.30")` is 618003 without building a Decimal: the string is scaled to an
integer by padding its fraction, then divided by the integer step. Off-grid values and garbage raise
`ValueError` naming the value; they are never rounded silently.

The depth hot path reads raw ASCII tokens (`b"61800.30"`) instead: `Grid.wire[token]` looks the
token up in a bounded `WireCache` (a dict, so hits cost one C-level lookup) and converts a miss with
`Grid.wire_units`, which strips the dot, calls `int()` once and divides by the step as integers.
"""

from __future__ import annotations

from decimal import Decimal

from grinder.core.rules import SymbolRules, decimal_places

CACHE_LIMIT = 1 << 16


class Grid:
    """One price or quantity grid (a tick size or a step size)."""

    __slots__ = ("cache", "dp", "step", "step_units", "what", "wire")

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
        self.wire = WireCache(self)

    def units(self, text: str) -> int:
        """Exact number of steps in `text`; ValueError if off-grid or not a plain decimal."""
        cached = self.cache.get(text)
        if cached is not None:
            return cached
        value = self._convert(text)
        cache = self.cache
        if len(cache) >= CACHE_LIMIT:
            cache.clear()
        cache[text] = value
        return value

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

    def wire_units(self, token: bytes) -> int:
        """Exact number of steps in an unsigned ASCII decimal token (`b"61800.30"`, `b"5"`).

        ValueError if the token is off-grid or anything but digits with at most one inner or
        trailing dot (no sign, exponent, spaces or other digits): such tokens go to the slow path.
        """
        dot = token.find(b".")
        if dot < 0:
            digits = token
            flen = 0
        else:
            digits = token.replace(b".", b"", 1)
            flen = len(digits) - dot
        if not dot or not digits.isdigit():  # bytes.isdigit() is ASCII-only; b"" is not digits
            raise ValueError(f"{self.what} {token!r} is not a plain unsigned decimal number")
        # value = int(digits)·10^-flen and step = step_units·10^-dp, so value / step is
        # int(digits)·10^(dp-flen) / step_units, an exact integer division.
        shift = self.dp - flen
        scale: int = 10 ** abs(shift)
        if shift >= 0:
            q, r = divmod(int(digits) * scale, self.step_units)
        else:
            q, r = divmod(int(digits), self.step_units * scale)
        if r:
            raise ValueError(f"{self.what} {token!r} is not a multiple of {self.step}")
        return q

    def nearest_units(self, text: str) -> int:
        """Round half-even to the grid (for values Binance itself may put off-grid)."""
        value = Decimal(text)
        return int((value / self.step).to_integral_value())


class WireCache(dict[bytes, int]):
    """Wire token → units of one grid, converting (and remembering) on a miss; bounded.

    `cache[token]` and `map(cache.__getitem__, tokens)` stay in C for hits; only successful
    conversions are stored, so a bad token raises again every time it is seen.
    """

    __slots__ = ("grid",)

    def __init__(self, grid: Grid) -> None:
        super().__init__()
        self.grid = grid

    def __missing__(self, token: bytes) -> int:
        value = self.grid.wire_units(token)
        if len(self) >= CACHE_LIMIT:
            self.clear()
        self[token] = value
        return value


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
