"""GridStrategy with StrategyConfig.reference() reproduces REFERENCE_GRID.md exactly, event by event."""

from __future__ import annotations

import random
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from grinder.core.enums import OrderType, Side
from grinder.core.rules import btcusdt_rules
from grinder.strategy import GridStrategy, StrategyConfig, reference_grid_config
from grinder.strategy.config import GridConfig, SpacingMode
from tests.strategy.helpers import SYM, ReferenceGrid, ReferenceMatcher, book, fill, quote_keys, trade


def make_path(seed: int, n: int, start: int = 600_000) -> list[tuple[str, int, int, int]]:
    """A seeded random market: ("q", bid, ask, t) quotes and ("t", price, 0, t) trades, with jumps."""
    rng = random.Random(seed)
    mid = start
    t = 1_700_000_000_000
    out: list[tuple[str, int, int, int]] = []
    for _ in range(n):
        t += rng.randint(1, 50)
        if rng.random() < 0.7:
            mid += rng.choice((-1, 1)) * rng.randint(0, 120) + (
                rng.choice((-1, 1)) * 2500 if rng.random() < 0.01 else 0
            )
            spread = rng.randint(1, 6)
            bid = mid - spread // 2
            out.append(("q", bid, bid + spread, t))
        else:
            out.append(("t", mid + rng.randint(-700, 700), 0, t))
    return out


def run_both(
    path: list[tuple[str, int, int, int]],
) -> tuple[ReferenceMatcher, GridStrategy, ReferenceGrid, int]:
    rules = btcusdt_rules("0")
    strat = GridStrategy(SYM, rules, StrategyConfig.reference())
    ref = ReferenceGrid()
    matcher = ReferenceMatcher()
    seen_quote = False
    bid = ask = 0
    steps = 0
    for kind, a, b, t in path:
        if kind == "q":
            bid, ask = a, b
            seen_quote = True
            hits = matcher.match_quote(bid, ask)
            strat.on_event(book(bid, ask, t))
        else:
            hits = matcher.match_trade(a)
            strat.on_event(trade(a, 1, t))
        for side, price, qty in hits:
            strat.on_fill(fill(side, price, qty, t, "b1" if side is Side.BUY else "s1"))
        if not seen_quote:
            continue
        expected = ref.step(bid, ask, matcher.pos)
        qs = strat.desired_quotes(matcher.pos, t)
        assert quote_keys(qs) == expected, (t, kind, bid, ask, matcher.pos)
        assert abs(matcher.pos) <= 100
        matcher.resting = set(expected)
        steps += 1
    return matcher, strat, ref, steps


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_reference_grid_matches_transcription_event_by_event(seed: int) -> None:
    _matcher, strat, ref, steps = run_both(make_path(seed, 1500))
    assert steps > 0
    assert strat.reanchors == ref.reanchors
    assert strat.anchor_ticks == ref.anchor


def test_reference_path_exercises_fills_caps_and_reanchors() -> None:
    matcher, _strat, ref, _ = run_both(make_path(7, 20_000))
    assert matcher.fills > 50
    assert ref.reanchors > 10


def test_reference_config_values() -> None:
    cfg = reference_grid_config()
    g = cfg.grid
    assert (g.levels, g.spacing_bps, g.order_qty, g.max_position) == (
        5,
        Decimal("10"),
        Decimal("0.01"),
        Decimal("0.1"),
    )
    assert g.spacing_mode is SpacingMode.FIXED and not g.take_profit and not g.size_skew
    assert g.anchor_skew_bps == 0 and g.min_spacing_ticks == 0
    assert not cfg.controller.enabled and not cfg.toxicity.enabled and not cfg.uses_features
    assert GridConfig.reference() == g


def test_reference_quotes_pass_symbol_rules() -> None:
    rules = btcusdt_rules("100")
    strat = GridStrategy(SYM, rules, StrategyConfig.reference())
    strat.on_event(book(600_000, 600_001, 1))
    qs = strat.desired_quotes(0, 1)
    assert len(qs.quotes) == 10
    for q in qs.quotes:
        rules.validate_ticks(q.side, OrderType.LIMIT, q.qty_lots, q.price_ticks)
        assert q.post_only
    # A = floor(1_200_001 / 2) = 600_000, d_i = floor(600_000 * 10 * i / 10000) = 600 i
    assert [q.price_ticks for q in qs.quotes if q.side is Side.BUY] == [
        599_400,
        598_800,
        598_200,
        597_600,
        597_000,
    ]
    assert [q.price_ticks for q in qs.quotes if q.side is Side.SELL] == [
        600_600,
        601_200,
        601_800,
        602_400,
        603_000,
    ]
    assert [q.level for q in qs.quotes] == ["b1", "b2", "b3", "b4", "b5", "s1", "s2", "s3", "s4", "s5"]


def test_skipping_in_band_events_gives_the_same_decisions() -> None:
    """must_feed_events is False for the reference: a backtester may skip in-band events entirely."""
    path = make_path(11, 20_000)
    full = GridStrategy(SYM, btcusdt_rules("0"), StrategyConfig.reference())
    skim = GridStrategy(SYM, btcusdt_rules("0"), StrategyConfig.reference())
    matcher = ReferenceMatcher()
    bid = ask = 0
    skipped = 0
    pending = None
    for kind, a, b, t in path:
        if kind == "q":
            bid, ask = a, b
            hits = matcher.match_quote(bid, ask)
        else:
            hits = matcher.match_trade(a)
        ev = book(bid, ask, t) if kind == "q" else trade(a, 1, t)
        full.on_event(ev)
        band = skim.quiet_band()
        in_band = not hits and band.position_lots == matcher.pos and band.contains(bid, ask, t)
        assert not band.must_feed_events or bid == 0
        if not in_band:
            if pending is not None:
                skim.on_event(pending)  # the last withheld quote first: the book must be current
                pending = None
            skim.on_event(ev)
        else:
            skipped += 1
            if kind == "q":
                pending = ev
        for side, price, qty in hits:
            full.on_fill(fill(side, price, qty, t))
            skim.on_fill(fill(side, price, qty, t))
        if bid == 0:
            continue
        qs_full = full.desired_quotes(matcher.pos, t)
        if not in_band:
            qs_skim = skim.desired_quotes(matcher.pos, t)
        assert qs_skim == qs_full
        matcher.resting = quote_keys(qs_full)
    assert skipped > len(path) // 2
    assert full.reanchors == skim.reanchors
