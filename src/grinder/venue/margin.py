"""The account behind the venue: wallet, positions, income history, margin (initial, maintenance,
open-order), liquidation estimate, isolated-margin transfers and funding settlement (ADR-014)."""

from __future__ import annotations

from decimal import Decimal

from grinder.core.enums import MarginType, OrderType, PositionSide
from grinder.core.errors import ErrorCode
from grinder.core.events import AccountUpdate, BalanceChange, PositionChange
from grinder.venue import errors as E
from grinder.venue.account import (
    ZERO,
    Position,
    liquidation_price,
    maint_margin,
    margin_type_wire,
    money,
    unrealized_pnl,
)
from grinder.venue.book import MarketState, market_of
from grinder.venue.config import VenueConfig
from grinder.venue.emission import UserEvents
from grinder.venue.errors import VenueReject
from grinder.venue.orders import Order, clean, order_px
from grinder.venue.views import BalanceView, IncomeView, PositionView


class Ledger:
    """One USDT account across all symbols of the venue."""

    def __init__(self, config: VenueConfig, markets: dict[str, MarketState], events: UserEvents) -> None:
        self.config = config
        self.markets = markets
        self.events = events
        self.asset = config.asset
        self.wallet = money(config.initial_balance)
        self.dual = config.dual_side_position
        self.positions: dict[tuple[str, PositionSide], Position] = {}
        self.income_rows: list[IncomeView] = []
        self.next_tran_id = 1
        self.update_ms = 0

    def position(self, symbol: str, pside: PositionSide) -> Position:
        key = (symbol, pside)
        pos = self.positions.get(key)
        if pos is None:
            pos = self.positions[key] = Position(symbol, pside)
        return pos

    def mark(self, m: MarketState) -> Decimal | None:
        """Mark price; before the first mark event the L1 mid stands in (ADR-014)."""
        if m.mark is not None:
            return m.mark
        if m.has_quote and m.bid > 0 and m.ask > 0:
            return (Decimal(m.bid + m.ask) / 2) * m.rules.tick_size
        return None

    def unrealized(self, m: MarketState, pos: Position) -> Decimal:
        mark = self.mark(m)
        if pos.lots == 0 or mark is None:
            return ZERO
        return unrealized_pnl(pos.lots, pos.cost, mark, m.rules.tick_size, m.rules.step_size)

    def position_notional(self, m: MarketState, pos: Position) -> Decimal:
        mark = self.mark(m)
        if mark is None:
            mark = pos.entry_ticks() * m.rules.tick_size
        return pos.lots * m.rules.step_size * mark

    def open_order_im(
        self, m: MarketState, exclude: Order | None = None, extra: Order | None = None
    ) -> Decimal:
        """Initial margin of the symbol's open orders: the notional that would increase exposure,
        / leverage; one-way takes the larger side, hedge adds LONG buys and SHORT sells (ADR-014).
        From the running sums (`_track_im`); the same integers and Decimal steps as `_open_order_im_scan`."""
        if m.im_other or exclude is not None or (extra is not None and extra.otype is not OrderType.LIMIT):
            return self.open_order_im_scan(m, exclude, extra)
        if not m.open_by_cid and extra is None:
            return ZERO
        buy_lots, buy_units = m.im_buy_lots, m.im_buy_units
        sell_lots, sell_units = m.im_sell_lots, m.im_sell_units
        open_units = m.im_open_units
        if extra is not None:
            rem = extra.orig - extra.executed
            units = extra.price * rem
            if extra.sign > 0:
                buy_lots += rem
                buy_units += units
            else:
                sell_lots += rem
                sell_units += units
            if not extra.closing:
                open_units += units
        if self.dual:
            return Decimal(open_units) * m.unit / m.leverage
        pos = self.positions.get((m.rules.symbol, PositionSide.BOTH))
        lots = pos.lots if pos is not None else 0
        need_buy = Decimal(buy_units) * max(0, buy_lots - max(0, -lots)) / buy_lots if buy_lots != 0 else ZERO
        need_sell = (
            Decimal(sell_units) * max(0, sell_lots - max(0, lots)) / sell_lots if sell_lots != 0 else ZERO
        )
        return max(need_buy, need_sell) * m.unit / m.leverage

    def open_order_im_scan(
        self, m: MarketState, exclude: Order | None = None, extra: Order | None = None
    ) -> Decimal:
        """`_open_order_im` by a scan over the open orders (non-LIMIT orders open; the test oracle)."""
        orders = [o for o in m.open_by_cid.values() if o is not exclude]
        if extra is not None:
            orders.append(extra)
        if not orders:
            return ZERO
        if self.dual:
            units = sum(order_px(o, m) * o.remaining for o in orders if not o.closing)
            return Decimal(units) * m.unit / m.leverage
        pos = self.positions.get((m.rules.symbol, PositionSide.BOTH))
        lots = pos.lots if pos is not None else 0
        need = []
        for sign, room in ((1, max(0, -lots)), (-1, max(0, lots))):
            side_orders = [o for o in orders if o.sign == sign]
            side_lots = sum(o.remaining for o in side_orders)
            if side_lots == 0:
                need.append(ZERO)
                continue
            side_units = sum(order_px(o, m) * o.remaining for o in side_orders)
            need.append(Decimal(side_units) * max(0, side_lots - room) / side_lots)
        return max(need) * m.unit / m.leverage

    def check_margin(self, m: MarketState, o: Order, *, before: Decimal | None = None) -> None:
        """-2019 when the order's extra initial margin exceeds the available balance. For a new order
        `o` is not yet open; for an amendment `o` already carries its new values and `before` is the
        symbol's open-order margin computed with the old ones."""
        amending = before is not None
        if before is None:
            before = self.open_order_im(m)
            after = self.open_order_im(m, extra=o)
        else:
            after = self.open_order_im(m)
        extra = after - before
        if extra <= 0:
            return
        available = self.balance().available_balance
        if amending:  # the balance already counts the amended order
            available += extra
        if extra > available:
            raise VenueReject(ErrorCode.MARGIN_NOT_SUFFICIENT, E.MSG_MARGIN)

    def balance(self) -> BalanceView:
        """Wallet, unrealized PnL, margin balance, available balance and initial/maintenance margins."""
        iso_wallets = ZERO
        cross_upnl = ZERO
        upnl = ZERO
        pos_im = ZERO
        maint = ZERO
        order_im = ZERO
        cfg = self.config
        for m in self.markets.values():
            order_im += self.open_order_im(m)
        for (sym, _), pos in self.positions.items():
            if pos.lots == 0:
                continue
            m = self.markets[sym]
            u = self.unrealized(m, pos)
            upnl += u
            notional = self.position_notional(m, pos)
            maint += maint_margin(notional, cfg.maint_margin_ratio, cfg.maint_amount)
            if m.margin_type is MarginType.ISOLATED:
                iso_wallets += pos.isolated_wallet
            else:
                cross_upnl += u
                pos_im += abs(notional) / m.leverage
        cross_wallet = self.wallet - iso_wallets
        available = cross_wallet + cross_upnl - pos_im - order_im
        return BalanceView(
            asset=self.asset,
            wallet_balance=self.wallet,
            cross_wallet_balance=cross_wallet,
            unrealized_pnl=upnl,
            cross_unrealized_pnl=cross_upnl,
            margin_balance=self.wallet + upnl,
            available_balance=money(available),
            max_withdraw_amount=money(max(ZERO, min(available, cross_wallet - pos_im - order_im))),
            position_initial_margin=money(pos_im + iso_wallets),
            open_order_initial_margin=money(order_im),
            initial_margin=money(pos_im + iso_wallets + order_im),
            maint_margin=money(maint),
            update_time_ms=self.update_ms,
        )

    def position_views(self, symbol: str | None = None) -> list[PositionView]:
        """`positionRisk` rows: one BOTH row per symbol (one-way) or LONG and SHORT rows (hedge)."""
        sides = (PositionSide.LONG, PositionSide.SHORT) if self.dual else (PositionSide.BOTH,)
        symbols = [symbol] if symbol is not None else list(self.markets)
        views = []
        for s in symbols:
            m = market_of(self.markets, s)
            views += [self.position_view(m, self.position(s, ps)) for ps in sides]
        return views

    def position_view(self, m: MarketState, pos: Position) -> PositionView:
        cfg = self.config
        tick = m.rules.tick_size
        mark = self.mark(m) or ZERO
        u = self.unrealized(m, pos)
        notional = self.position_notional(m, pos) if pos.lots else ZERO
        entry = pos.entry_ticks() * tick
        qty = abs(pos.lots) * m.rules.step_size
        isolated = m.margin_type is MarginType.ISOLATED
        if pos.lots == 0:
            liq = ZERO
        elif isolated:
            liq = liquidation_price(
                wallet_balance=pos.isolated_wallet,
                side=1 if pos.lots > 0 else -1,
                qty=qty,
                entry_price=entry,
                maint_margin_ratio=cfg.maint_margin_ratio,
                maint_amount=cfg.maint_amount,
            )
        else:
            others_mm, others_u = ZERO, ZERO
            iso = ZERO
            for (sym, _), other in self.positions.items():
                om = self.markets[sym]
                if om.margin_type is MarginType.ISOLATED:
                    iso += other.isolated_wallet
                    continue
                if other is pos or other.lots == 0:
                    continue
                others_mm += maint_margin(
                    self.position_notional(om, other), cfg.maint_margin_ratio, cfg.maint_amount
                )
                others_u += self.unrealized(om, other)
            liq = liquidation_price(
                wallet_balance=self.wallet - iso,
                side=1 if pos.lots > 0 else -1,
                qty=qty,
                entry_price=entry,
                maint_margin_ratio=cfg.maint_margin_ratio,
                maint_amount=cfg.maint_amount,
                other_maint_margin=others_mm,
                other_unrealized=others_u,
            )
        pos_im = abs(notional) / m.leverage
        order_im = self.open_order_im(m)
        return PositionView(
            symbol=pos.symbol,
            position_side=pos.position_side,
            amount_lots=pos.lots,
            entry_price=clean(entry),
            break_even_price=clean(_break_even(pos, entry, qty)),
            mark_price=mark,
            unrealized_pnl=u,
            liquidation_price=clean(liq),
            leverage=m.leverage,
            margin_type=m.margin_type,
            isolated_margin=(pos.isolated_wallet + u) if isolated else ZERO,
            isolated_wallet=pos.isolated_wallet if isolated else ZERO,
            notional=money(notional),
            initial_margin=money(pos_im + order_im),
            maint_margin=money(maint_margin(notional, cfg.maint_margin_ratio, cfg.maint_amount)),
            position_initial_margin=money(pos_im),
            open_order_initial_margin=money(order_im),
            max_notional_value=Decimal(0),
            accumulated_realized=pos.accumulated_realized,
            update_time_ms=pos.update_ms,
        )

    def set_leverage(self, symbol: str, leverage: int) -> int:
        """`POST /fapi/v1/leverage` (1..125); returns the leverage now in force."""
        m = market_of(self.markets, symbol)
        if not 1 <= leverage <= 125:
            raise VenueReject(ErrorCode.INVALID_LEVERAGE, f"Leverage {leverage} is not valid")
        m.leverage = leverage
        return leverage

    def set_margin_type(self, symbol: str, margin_type: MarginType) -> None:
        """`POST /fapi/v1/marginType`: refused with open orders (-4047) or a position (-4048)."""
        m = market_of(self.markets, symbol)
        if m.margin_type is margin_type:
            raise VenueReject(ErrorCode.NO_NEED_TO_CHANGE_MARGIN_TYPE, E.MSG_NO_MARGIN_TYPE_CHANGE)
        if m.open_by_cid:
            raise VenueReject(ErrorCode.MARGIN_TYPE_OPEN_ORDERS, E.MSG_MARGIN_TYPE_OPEN_ORDERS)
        if any(p.lots for (s, _), p in self.positions.items() if s == symbol):
            raise VenueReject(ErrorCode.MARGIN_TYPE_POSITION, E.MSG_MARGIN_TYPE_POSITION)
        m.margin_type = margin_type

    def set_dual_side(self, dual: bool) -> None:
        """`POST /fapi/v1/positionSide/dual`: refused with open orders (-4067) or positions (-4068)."""
        if dual == self.dual:
            raise VenueReject(ErrorCode.NO_NEED_TO_CHANGE_POSITION_SIDE, E.MSG_NO_POSITION_SIDE_CHANGE)
        if any(m.open_by_cid for m in self.markets.values()):
            raise VenueReject(ErrorCode.POSITION_SIDE_CHANGE_OPEN_ORDERS, E.MSG_POSITION_SIDE_OPEN_ORDERS)
        if any(p.lots for p in self.positions.values()):
            raise VenueReject(ErrorCode.POSITION_SIDE_CHANGE_POSITION, E.MSG_POSITION_SIDE_POSITION)
        self.dual = dual

    def isolated_transfer(
        self, m: MarketState, pos: Position, price: int, opened: int, closed: int, lots: int
    ) -> None:
        """Isolated margin: opening moves notional/leverage into the position's wallet; closing releases
        its share. Realized PnL and fees settle in the wallet balance (ADR-014)."""
        before = abs(pos.lots) + closed - opened  # size before this fill
        if closed > 0 and before > 0:
            release = money(pos.isolated_wallet * closed / before)
            pos.isolated_wallet -= release
        if pos.lots == 0:
            pos.isolated_wallet = ZERO
        if opened > 0:
            pos.isolated_wallet += money(Decimal(price * opened) * m.unit / m.leverage)

    def settle_funding(self, m: MarketState) -> None:
        """Funding = position × mark × rate; longs pay when the rate is positive (protocol sheet §9)."""
        at = m.next_funding_ms
        m.last_funding_ms = at
        if m.funding_plan:
            _, m.funding_rate, plan_mark = m.funding_plan.pop(0)
            m.next_funding_ms = m.funding_plan[0][0] if m.funding_plan else 0
            mark = plan_mark if plan_mark is not None else self.mark(m)
        else:
            m.next_funding_ms = at + self.config.funding_interval_ms
            mark = self.mark(m)
        if mark is None:
            return
        m.funding_settled.append(at)
        if m.funding_rate == 0:
            return
        sym = m.rules.symbol
        changed = []
        total = ZERO
        for ps in (PositionSide.BOTH, PositionSide.LONG, PositionSide.SHORT):
            pos = self.positions.get((sym, ps))
            if pos is None or pos.lots == 0:
                continue
            fee = money(-(pos.lots * m.rules.step_size * mark * m.funding_rate))
            if fee == 0:
                continue
            self.wallet += fee
            total += fee
            if m.margin_type is MarginType.ISOLATED:
                pos.isolated_wallet += fee
                changed.append(pos)
            self.add_income(sym, "FUNDING_FEE", fee, at, 0)
        if total == 0 and not changed:
            return
        self.update_ms = at
        self.events.pending.append(
            AccountUpdate(
                reason="FUNDING_FEE",
                balances=(self.balance_change(total),),
                positions=tuple(self.position_change(m, p) for p in changed),
                event_time_ms=at,
                transaction_time_ms=at,
            )
        )

    def add_income(self, symbol: str, kind: str, amount: Decimal, t: int, trade_id: int) -> None:
        self.income_rows.append(
            IncomeView(
                symbol=symbol,
                income_type=kind,
                income=amount,
                asset=self.asset,
                info=str(trade_id) if trade_id else kind,
                time_ms=t,
                tran_id=self.next_tran_id,
                trade_id=trade_id,
            )
        )
        self.next_tran_id += 1

    def balance_change(self, change: Decimal) -> BalanceChange:
        iso = sum(
            (
                p.isolated_wallet
                for (s, _), p in self.positions.items()
                if self.markets[s].margin_type is MarginType.ISOLATED
            ),
            ZERO,
        )
        return BalanceChange(
            asset=self.asset,
            wallet_balance=self.wallet,
            cross_wallet_balance=self.wallet - iso,
            balance_change=change,
        )

    def position_change(self, m: MarketState, pos: Position) -> PositionChange:
        entry = pos.entry_ticks() * m.rules.tick_size
        isolated = m.margin_type is MarginType.ISOLATED
        return PositionChange(
            symbol=pos.symbol,
            position_side=pos.position_side,
            amount_lots=pos.lots,
            entry_price=clean(entry),
            break_even_price=clean(_break_even(pos, entry, abs(pos.lots) * m.rules.step_size)),
            accumulated_realized=pos.accumulated_realized,
            unrealized_pnl=self.unrealized(m, pos),
            margin_type=margin_type_wire(m.margin_type),
            isolated_wallet=pos.isolated_wallet if isolated else ZERO,
        )


def _break_even(pos: Position, entry: Decimal, qty: Decimal) -> Decimal:
    """Entry price moved by the opening fees paid per unit of the position (`qty` its size)."""
    if not pos.lots:
        return entry
    return entry + (1 if pos.lots > 0 else -1) * pos.open_fees / qty
