"""`grinder.api`: loading a `module:callable` factory, the [strategy] section, and what the pipeline
does with a plug-in strategy with and without the optional quiet band."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from grinder.api import (
    EMPTY_BAND,
    QuietBand,
    QuoteSet,
    Strategy,
    StrategyContext,
    StrategyLoadError,
    StrategySelection,
    load_factory,
    select,
)
from grinder.cli import main
from grinder.config import ConfigError, load_config
from grinder.core.enums import Side
from grinder.core.events import BookTicker, Fill, MarketEvent
from grinder.core.ids import ClientOrderIdFactory
from grinder.core.quotes import DesiredQuote
from grinder.core.rules import btcusdt_rules
from grinder.execution import ExecutionConfig, TradingPipeline
from grinder.risk import RiskConfig
from grinder.strategy import GridStrategy, grid_factory
from tests.fixtures.paths import REPO_DIR

SYM = "BTCUSDT"
RULES = btcusdt_rules("100")
T0 = 1_700_000_000_000
RISK = RiskConfig(max_notional_per_order=Decimal("600"), max_position_notional=Decimal("6000"),
                  max_total_position_notional=Decimal("10000"))


class Counting:
    """Quotes one bid 10 ticks under the bid; counts how often it was asked."""

    def __init__(self, ctx: StrategyContext) -> None:
        self.symbol, self.asked, self.bid, self.fills = ctx.symbol, 0, 0, 0

    def on_event(self, ev: MarketEvent) -> None:
        if isinstance(ev, BookTicker):
            self.bid = ev.bid_ticks

    def on_fill(self, fill: Fill) -> None:
        self.fills += 1

    def desired_quotes(self, position_lots: int, now_ms: int) -> QuoteSet:
        self.asked += 1
        return QuoteSet(self.symbol, (DesiredQuote(self.symbol, Side.BUY, self.bid - 10, 5, "b1", True),),
                        reason="QUOTING")


class Banded(Counting):
    """The same, promising its answer holds while the bid stays within 3 ticks."""

    def __init__(self, ctx: StrategyContext) -> None:
        super().__init__(ctx)
        self.band = EMPTY_BAND

    def desired_quotes(self, position_lots: int, now_ms: int) -> QuoteSet:
        b = self.bid
        self.band = QuietBand(2 * b - 6, 2 * b + 8, b - 3, b + 3, b - 2, b + 4, 10, now_ms + 60_000, position_lots, True)
        return super().desired_quotes(position_lots, now_ms)

    def quiet_band(self) -> QuietBand:
        return self.band


def pipeline(factory: object, config: object = None) -> TradingPipeline:
    p = TradingPipeline({SYM: RULES}, config, RISK, ExecutionConfig(), ClientOrderIdFactory("t", 1),
                        strategy_factory=factory)  # type: ignore[arg-type]
    p.on_wallet_balance(Decimal("10000"), T0)
    return p


def ticks(p: TradingPipeline, n: int) -> None:
    for i in range(n):
        bid = 600_000 + (i % 2)  # one-tick flicker: inside any sensible band
        p.on_market_event(BookTicker(SYM, bid, 10, bid + 1, 10, i + 1, T0 + i, T0 + i), T0 + i)


def test_a_strategy_without_a_quiet_band_is_asked_on_every_event() -> None:
    p = pipeline(Counting)
    ticks(p, 50)
    strategy = p.strategy(SYM)
    assert isinstance(strategy, Counting) and strategy.asked == 50
    assert p.quiet_state(SYM)[0] is None  # nothing for a backtester to skip on
    assert [o.price_ticks for o in p.working_orders(SYM)] == [600_000 - 10]


def test_a_strategy_with_a_quiet_band_is_asked_only_when_the_market_leaves_it() -> None:
    p = pipeline(Banded)
    ticks(p, 50)
    strategy = p.strategy(SYM)
    assert isinstance(strategy, Banded) and strategy.asked <= 3  # the first plans, then quiet
    assert p.quiet_state(SYM)[0] == strategy.band
    before = strategy.asked
    p.on_market_event(BookTicker(SYM, 600_100, 10, 600_101, 10, 99, T0 + 99, T0 + 99), T0 + 99)
    assert strategy.asked == before + 1  # left the band: asked again


def test_the_grid_is_one_implementation_of_the_protocol() -> None:
    grid = grid_factory(StrategyContext(SYM, RULES, None))
    assert isinstance(grid, GridStrategy) and isinstance(grid, Strategy)
    assert isinstance(pipeline(grid_factory).strategy(SYM), GridStrategy)


def test_a_factory_that_returns_no_strategy_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match=r"returned a dict for BTCUSDT, which is not a grinder.api.Strategy"):
        pipeline(lambda ctx: {})


def test_the_factory_gets_symbol_rules_and_its_params() -> None:
    seen: list[StrategyContext] = []

    def factory(ctx: StrategyContext) -> Counting:
        seen.append(ctx)
        return Counting(ctx)

    _, config = StrategySelection("examples.strategies.touch:make", {"gamma": 0.1}).choose(grid_factory, "grid")
    assert StrategySelection().choose(grid_factory, "grid") == (grid_factory, "grid")
    pipeline(factory, config)
    assert seen == [StrategyContext(SYM, RULES, {"gamma": 0.1})]
    with pytest.raises(TypeError):
        config["gamma"] = 1  # type: ignore[index]  # read-only for the strategy


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("examples.strategies.avellaneda", "is not module:callable"),
        ("no_such_pkg.strategy:make", "module no_such_pkg not found"),
        ("examples.strategies.avellaneda:nope", "has no attribute 'nope'"),
        ("examples.strategies.avellaneda:INT_MAX", "is a int, not a callable factory"),
        ("missing/file.py:make", "file missing/file.py does not exist"),
    ],
)
def test_a_bad_factory_string_says_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(StrategyLoadError, match=message):
        load_factory(spec)


def test_a_factory_loads_by_module_or_by_file_path(tmp_path: Path) -> None:
    by_module = load_factory("examples.strategies.touch:make")
    by_file = load_factory(f"{REPO_DIR / 'examples' / 'strategies' / 'touch.py'}:make")
    ctx = StrategyContext(SYM, RULES, {})
    assert isinstance(by_module(ctx), Strategy) and isinstance(by_file(ctx), Strategy)
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('boom')\n", encoding="utf-8")
    with pytest.raises(StrategyLoadError, match=r"importing .*broken\.py failed: RuntimeError: boom"):
        load_factory(f"{broken}:make")


def test_flag_overrides_the_config_and_keeps_its_params() -> None:
    configured = StrategySelection("examples.strategies.touch:make", {"offset_ticks": 5})
    chosen = select(configured, "examples.strategies.avellaneda:make")
    assert chosen == StrategySelection("examples.strategies.avellaneda:make", {"offset_ticks": 5})
    assert select(configured, None) == configured
    with pytest.raises(StrategyLoadError, match=r"^--strategy 'bad' is not module:callable"):
        select(configured, "bad")


def test_strategy_section_with_params_loads_and_refuses_secrets(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text('[strategy]\nfactory = "examples.strategies.touch:make"\n'
                    '[strategy.params]\noffset_ticks = 7\nname = "x"\n', encoding="utf-8")
    section = load_config(good).section("strategy")
    assert section == StrategySelection("examples.strategies.touch:make", {"offset_ticks": 7, "name": "x"})
    secret = tmp_path / "secret.toml"
    secret.write_text('[strategy]\nfactory = "examples.strategies.touch:make"\n'
                      '[strategy.params]\napi_secret = "x"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[strategy.params\] api_secret: secrets are not accepted"):
        load_config(secret)


def test_config_check_refuses_a_bad_factory_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[strategy]\nfactory = "examples.strategies.nope:make"\n', encoding="utf-8")
    assert main(["config", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "[strategy] factory" in err and "examples.strategies.nope" in err
    malformed = tmp_path / "malformed.toml"
    malformed.write_text('[strategy]\nfactory = "just words"\n', encoding="utf-8")
    assert main(["config", "check", str(malformed)]) == 2
    assert "is not module:callable" in capsys.readouterr().err


def test_backtest_refuses_a_bad_strategy_before_reading_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["backtest", "--strategy", "nope:make", "--data", str(tmp_path / "absent.parquet")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--strategy 'nope:make'" in err and "absent" not in err


def test_live_refuses_a_bad_strategy_as_a_configuration_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["live", "--strategy", "examples.strategies.avellaneda:missing"]) == 2
    assert "has no attribute 'missing'" in capsys.readouterr().err


def test_example_params_are_checked_by_name() -> None:
    make = load_factory("examples.strategies.avellaneda:make")
    with pytest.raises(ValueError, match=r"\[strategy.params\] unknown key 'gama'"):
        make(StrategyContext(SYM, RULES, {"gama": 1}))
    with pytest.raises(ValueError, match=r"\[strategy.params\] kappa = 'x' is not a number"):
        make(StrategyContext(SYM, RULES, {"kappa": "x"}))
