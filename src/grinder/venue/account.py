"""Account arithmetic of the venue: positions with average entry, realized PnL, money rounding and the
maintenance-margin / liquidation-price estimate (protocol sheet §10.3). Pure functions and small state."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from grinder.core.enums import MarginType, PositionSide

ZERO = Decimal(0)
_Q8 = Decimal("0.00000001")


def money(value: Decimal) -> Decimal:
    """Round a money amount to Binance's 8 decimals (banker's rounding, so sums stay unbiased)."""
    result = value.quantize(_Q8, rounding=ROUND_HALF_EVEN)
    return result if result != 0 else ZERO


class Position:
    """One position (symbol × position side). `lots` is signed; `cost` is Σ price_ticks × lots of the
    open lots (tick·lot units), so the entry price is cost / |lots| ticks exactly."""

    __slots__ = (
        "accumulated_realized",
        "cost",
        "isolated_wallet",
        "lots",
        "open_fees",
        "position_side",
        "symbol",
        "update_ms",
    )

    def __init__(self, symbol: str, position_side: PositionSide) -> None:
        self.symbol = symbol
        self.position_side = position_side
        self.lots = 0
        self.cost = ZERO
        self.accumulated_realized = ZERO
        self.open_fees = ZERO  # commissions paid while the current position was built (break-even)
        self.isolated_wallet = ZERO
        self.update_ms = 0

    def entry_ticks(self) -> Decimal:
        return self.cost / abs(self.lots) if self.lots else ZERO

    def closable_lots(self, order_sign: int) -> int:
        """How many lots an order of `order_sign` (+1 buy, -1 sell) can close without flipping."""
        if self.lots * order_sign >= 0:
            return 0
        return abs(self.lots)

    def apply_fill(self, signed_lots: int, price_ticks: int, unit: Decimal) -> tuple[Decimal, int]:
        """Add a fill; return (realized PnL in money before fees, lots closed)."""
        realized = ZERO
        closed = 0
        lots = self.lots
        if lots == 0 or (lots > 0) == (signed_lots > 0):
            self.cost += Decimal(price_ticks * abs(signed_lots))
            self.lots = lots + signed_lots
            return realized, closed
        closed = min(abs(lots), abs(signed_lots))
        removed_cost = self.cost * closed / abs(lots)
        direction = 1 if lots > 0 else -1
        realized = money((Decimal(price_ticks * closed) - removed_cost) * unit * direction)
        self.cost -= removed_cost
        self.lots = lots + signed_lots
        opened = abs(signed_lots) - closed
        if self.lots == 0:
            self.cost = ZERO
            self.open_fees = ZERO
        elif opened > 0:  # flipped through zero: the rest opens a new position at this price
            self.cost = Decimal(price_ticks * opened)
            self.open_fees = ZERO
        return realized, closed


def unrealized_pnl(
    lots: int, cost: Decimal, mark: Decimal, tick_size: Decimal, step_size: Decimal
) -> Decimal:
    """Unrealized PnL at `mark` of a position with `lots` (signed) and entry cost `cost` (tick·lot)."""
    if lots == 0:
        return ZERO
    direction = 1 if lots > 0 else -1
    return money(lots * step_size * mark - direction * cost * tick_size * step_size)


def maint_margin(notional: Decimal, maint_margin_ratio: Decimal, maint_amount: Decimal) -> Decimal:
    """Maintenance margin of one position: |notional| × MMR − cum (never negative)."""
    return max(ZERO, abs(notional) * maint_margin_ratio - maint_amount)


def liquidation_price(
    *,
    wallet_balance: Decimal,
    side: int,
    qty: Decimal,
    entry_price: Decimal,
    maint_margin_ratio: Decimal,
    maint_amount: Decimal = ZERO,
    other_maint_margin: Decimal = ZERO,
    other_unrealized: Decimal = ZERO,
) -> Decimal:
    """Binance's one-way liquidation price estimate (protocol sheet §10.3):

    LP = (WB − TMM₁ + UPNL₁ + cum − Side × Q × EP) / (Q × MMR − Side × Q)

    WB is the cross wallet balance (isolated: the position's isolated wallet, TMM₁ = UPNL₁ = 0), Side
    is +1 long / −1 short, Q the absolute size. Returns 0 when there is no position or the result is
    not positive (the position cannot be liquidated by price).
    Example: isolated long EP 50000, Q 0.01, WB 100, MMR 0.4 %, cum 0 → ≈ 40160.64.
    """
    if qty == 0 or side == 0:
        return ZERO
    denominator = qty * maint_margin_ratio - side * qty
    if denominator == 0:
        return ZERO
    lp = (
        wallet_balance - other_maint_margin + other_unrealized + maint_amount - side * qty * entry_price
    ) / (denominator)
    return lp if lp > 0 else ZERO


def margin_type_wire(margin_type: MarginType) -> str:
    """ACCOUNT_UPDATE spells margin types in lower case: "cross" / "isolated"."""
    return "cross" if margin_type is MarginType.CROSSED else "isolated"
