"""The full Runbook 17 gate matrix: armed × mode × ALLOW_MAINNET_TRADE × futures port (URL) × paper
port, for place_order, cancel_order and replace_order, and for the engine's submit() path."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from prometheus_client import REGISTRY

from grinder.connector import (
    ConnectorNonRetryableError,
    LiveConnectorConfig,
    LiveConnectorV0,
    SafeMode,
    check_write_gates,
    is_mainnet_url,
)
from grinder.connector.config import env_flag
from grinder.core.commands import AmendOrder, CancelOrder, Outcome, PlaceOrder
from grinder.core.enums import OrderType, Side
from tests.connector.recording_port import RecordingPort

MAINNET = "https://fapi.binance.com"
UNKNOWN_HOST = "https://fapi.example.net"  # not known to be non-mainnet: treated as mainnet
LOOPBACK = "http://127.0.0.1:8765"
TESTNET = "https://testnet.binancefuture.com"
DEMO = "https://demo-fapi.binance.com"
PORT_URLS: tuple[str | None, ...] = (None, MAINNET, UNKNOWN_HOST, LOOPBACK, TESTNET, DEMO)
ENV_VALUES: tuple[str | None, ...] = (None, "1", "true", "YES", "Yes", "0", "false", "no", "", "2")
TRUTHY = {"1", "true", "YES", "Yes"}
MAINNET_LIKE = {MAINNET, UNKNOWN_HOST}
CID = "grinder_s_BTCUSDT_1_1700000000_1"


def expected_block(op: str, armed: bool, mode: SafeMode, env: str | None, port_url: str | None,
                   paper: bool) -> tuple[str, str] | None:
    """The oracle, written out independently of grinder.connector.gates."""
    if not armed:
        return ("armed", f"Cannot {op}: armed=False. Arm the connector: set LiveConnectorConfig(armed=True) "
                         "(or config.armed = True at runtime); only the HA leader may be armed.")
    if mode is SafeMode.READ_ONLY:
        return ("mode", f"Cannot {op}: mode=READ_ONLY (no writes possible). Set "
                        "LiveConnectorConfig(mode=SafeMode.LIVE_TRADE) for real orders, "
                        "or SafeMode.PAPER for paper orders.")
    if mode is SafeMode.PAPER:
        if not paper:
            return ("paper_port", f"Cannot {op}: mode=PAPER but paper_port not configured. Provide one: "
                                  "LiveConnectorConfig(paper_port=PaperPort(venue, clock), ...).")
        return None
    if (port_url is None or port_url in MAINNET_LIKE) and env not in TRUTHY:
        target = port_url if port_url is not None else "(no futures_port: assumed mainnet)"
        return ("allow_mainnet_trade",
                f"Cannot {op}: ALLOW_MAINNET_TRADE=1 not set (target {target} is Binance mainnet). "
                "Export ALLOW_MAINNET_TRADE=1 (accepted: 1/true/yes) to trade real money, or point "
                "BINANCE_FUTURES_BASE_URL at the testnet or a loopback simulator.")
    if port_url is None:
        return ("futures_port", f"Cannot {op}: futures_port not configured. Provide one: "
                                "LiveConnectorConfig(futures_port=BinanceFuturesPort(config=port_config, "
                                "http_client=http_client), ...).")
    return None


def _setup(armed: bool, mode: SafeMode, env: str | None, port_url: str | None, paper: bool):
    futures = RecordingPort(port_url) if port_url is not None else None
    paper_port = RecordingPort("paper://venue", name="paper") if paper else None
    config = LiveConnectorConfig(mode=mode, armed=armed, futures_port=futures, paper_port=paper_port)
    environ = {} if env is None else {"ALLOW_MAINNET_TRADE": env}
    return LiveConnectorV0(config, environ=environ), futures, paper_port


async def _call(connector: LiveConnectorV0, op: str) -> object:
    if op == "place_order":
        return await connector.place_order(symbol="BTCUSDT", side=Side.BUY, price=Decimal("40000.00"),
                                           quantity=Decimal("0.003"))
    if op == "cancel_order":
        return await connector.cancel_order(CID, "BTCUSDT")
    return await connector.replace_order(CID, symbol="BTCUSDT", price=Decimal("39000.00"))


EXPECTED_COMMAND = {"place_order": PlaceOrder, "cancel_order": CancelOrder, "replace_order": AmendOrder}


@pytest.mark.parametrize("op", ["place_order", "cancel_order", "replace_order"])
@pytest.mark.parametrize("mode", list(SafeMode))
@pytest.mark.parametrize("armed", [False, True])
async def test_gate_matrix_runbook_api(op: str, mode: SafeMode, armed: bool) -> None:
    problems: list[str] = []
    passed = 0
    for env, port_url, paper in itertools.product(ENV_VALUES, PORT_URLS, (False, True)):
        case = f"{op} armed={armed} mode={mode} env={env!r} port={port_url} paper={paper}"
        connector, futures, paper_port = _setup(armed, mode, env, port_url, paper)
        want = expected_block(op, armed, mode, env, port_url, paper)
        try:
            await _call(connector, op)
        except ConnectorNonRetryableError as exc:
            if want is None:
                problems.append(f"{case}: blocked unexpectedly: {exc}")
            elif (exc.gate, str(exc)) != want:
                problems.append(f"{case}: got ({exc.gate}, {exc}) want {want}")
        else:
            if want is not None:
                problems.append(f"{case}: passed, want block {want[0]}")
        got = [*(futures.received if futures else []), *(paper_port.received if paper_port else [])]
        if want is not None and got:
            problems.append(f"{case}: blocked but the port received {got}")
        if want is None:
            passed += 1
            target = paper_port if mode is SafeMode.PAPER else futures
            assert target is not None
            if [type(c) for c in target.received] != [EXPECTED_COMMAND[op]] or len(got) != 1:
                problems.append(f"{case}: expected one {EXPECTED_COMMAND[op].__name__} on {target.name}, got {got}")
    assert not problems, "\n".join(problems[:20])
    # Writes pass only when armed and in PAPER (with a paper port) or LIVE_TRADE (port + env/URL ok).
    if not armed or mode is SafeMode.READ_ONLY:
        assert passed == 0
    else:
        assert passed > 0


@pytest.mark.parametrize("mode", list(SafeMode))
@pytest.mark.parametrize("armed", [False, True])
async def test_gate_matrix_engine_submit_returns_blocked(mode: SafeMode, armed: bool) -> None:
    rules = RecordingPort(MAINNET).rules
    commands = [
        PlaceOrder(symbol="BTCUSDT", side=Side.SELL, order_type=OrderType.LIMIT, qty_lots=3,
                   client_order_id=CID, price_ticks=rules.price_to_ticks("40000")),
        CancelOrder(symbol="BTCUSDT", client_order_id=CID),
        AmendOrder(symbol="BTCUSDT", client_order_id=CID, side=Side.SELL,
                   price_ticks=rules.price_to_ticks("39000"), qty_lots=3),
    ]
    ops = ["place_order", "cancel_order", "replace_order"]
    for (op, cmd), env, port_url, paper in itertools.product(zip(ops, commands, strict=True), ENV_VALUES,
                                                          PORT_URLS, (False, True)):
        connector, futures, paper_port = _setup(armed, mode, env, port_url, paper)
        want = expected_block(op, armed, mode, env, port_url, paper)
        result = await connector.submit(cmd)
        if want is None:
            assert result.outcome is Outcome.ACCEPTED, (op, env, port_url, paper, result)
        else:
            assert result.outcome is Outcome.BLOCKED
            assert result.reason == f"gate:{want[0]}", (op, env, port_url, paper, result.reason)
            assert not (futures and futures.received) and not (paper_port and paper_port.received)


def test_gate_order_armed_first_then_mode_then_env_then_port() -> None:
    # Everything wrong at once: the armed gate is reported.
    block = check_write_gates("place_order", mode=SafeMode.READ_ONLY, armed=False, futures_port=None,
                              paper_port=None, environ={})
    assert block is not None and block.gate.value == "armed"
    block = check_write_gates("place_order", mode=SafeMode.READ_ONLY, armed=True, futures_port=None,
                              paper_port=None, environ={})
    assert block is not None and block.gate.value == "mode"
    block = check_write_gates("place_order", mode=SafeMode.LIVE_TRADE, armed=True, futures_port=None,
                              paper_port=None, environ={})
    assert block is not None and block.gate.value == "allow_mainnet_trade"
    block = check_write_gates("place_order", mode=SafeMode.LIVE_TRADE, armed=True, futures_port=None,
                              paper_port=None, environ={"ALLOW_MAINNET_TRADE": "1"})
    assert block is not None and block.gate.value == "futures_port"


@pytest.mark.parametrize(
    ("url", "mainnet"),
    [
        ("https://fapi.binance.com", True),
        ("https://fapi.binance.com/", True),
        ("https://FAPI.BINANCE.COM", True),
        ("https://fapi.example.net", True),
        ("https://testnet.binancefuture.com", False),
        ("https://demo-fapi.binance.com", False),
        ("http://127.0.0.1:8765", False),
        ("http://127.5.6.7:1", False),
        ("http://localhost:9000", False),
        ("http://[::1]:9000", False),
        ("http://10.0.0.5:8765", True),  # not loopback: could be a proxy to mainnet
        ("https://testnet.binancefuture.com.evil.io", True),
        ("not a url", True),
        ("", True),
    ],
)
def test_mainnet_detection_fails_closed(url: str, mainnet: bool) -> None:
    assert is_mainnet_url(url) is mainnet


@pytest.mark.parametrize(("value", "truthy"), [("1", True), ("true", True), ("TRUE", True), ("Yes", True),
                                               (" yes ", True), ("0", False), ("false", False), ("no", False),
                                               ("", False), ("on", False), ("2", False)])
def test_allow_mainnet_trade_truthiness(value: str, truthy: bool) -> None:
    assert env_flag({"ALLOW_MAINNET_TRADE": value}, "ALLOW_MAINNET_TRADE") is truthy
    assert env_flag({}, "ALLOW_MAINNET_TRADE") is False


async def test_gate_block_counts_metric_by_gate() -> None:
    def value() -> float:
        return REGISTRY.get_sample_value("grinder_connector_gate_blocks_total", {"gate": "armed"}) or 0.0

    before = value()
    connector = LiveConnectorV0(LiveConnectorConfig(), environ={})
    with pytest.raises(ConnectorNonRetryableError):
        await connector.place_order(symbol="BTCUSDT", side="BUY", price=Decimal("40000.00"),
                                    quantity=Decimal("0.003"))
    assert value() == before + 1


async def test_env_is_read_at_each_write() -> None:
    environ: dict[str, str] = {"ALLOW_MAINNET_TRADE": "1"}
    port = RecordingPort(MAINNET)
    connector = LiveConnectorV0(
        LiveConnectorConfig(mode=SafeMode.LIVE_TRADE, armed=True, futures_port=port), environ=environ)
    await connector.place_order(symbol="BTCUSDT", side="BUY", price=Decimal("40000.00"), quantity=Decimal("0.003"))
    del environ["ALLOW_MAINNET_TRADE"]
    with pytest.raises(ConnectorNonRetryableError, match="ALLOW_MAINNET_TRADE=1 not set"):
        await connector.place_order(symbol="BTCUSDT", side="BUY", price=Decimal("40000.00"),
                                    quantity=Decimal("0.003"))
    assert len(port.received) == 1


def test_config_assignment_is_validated_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    config = LiveConnectorConfig(mode=SafeMode.LIVE_TRADE, armed=True)
    with caplog.at_level("WARNING", logger="grinder.connector.config"):
        config.armed = False
        config.mode = "read_only"  # type: ignore[assignment]
    assert config.mode is SafeMode.READ_ONLY
    assert "armed=False" in caplog.text and "mode=READ_ONLY" in caplog.text
    with pytest.raises(ValueError, match="accepted"):
        config.mode = "LIVE"  # type: ignore[assignment]
    with pytest.raises(ValueError, match="True or False"):
        config.armed = "yes"  # type: ignore[assignment]
    assert LiveConnectorConfig().mode is SafeMode.READ_ONLY and LiveConnectorConfig().armed is False


async def test_rollback_during_an_in_flight_write_still_wins() -> None:
    """A mode or arm change while the write awaits rules/prices stops it before the port call."""
    paper_port = RecordingPort("paper://venue", name="paper")

    class SlowPort(RecordingPort):
        async def symbol_rules(self, symbol: str):  # type: ignore[no-untyped-def]
            change()  # the operator acts while we await the exchange
            return self.rules

    for change_name in ("disarm", "paper", "read_only"):
        port = SlowPort(LOOPBACK)
        config = LiveConnectorConfig(mode=SafeMode.LIVE_TRADE, armed=True, futures_port=port, paper_port=paper_port)
        connector = LiveConnectorV0(config, environ={})

        def change(name: str = change_name, cfg: LiveConnectorConfig = config) -> None:
            if name == "disarm":
                cfg.armed = False
            elif name == "paper":
                cfg.mode = SafeMode.PAPER
            else:
                cfg.mode = SafeMode.READ_ONLY

        cmd = PlaceOrder(symbol="BTCUSDT", side=Side.BUY, order_type=OrderType.LIMIT, qty_lots=3,
                         client_order_id=CID, price_ticks=400000)
        result = await connector.submit(cmd)
        assert result.outcome is Outcome.BLOCKED, change_name
        assert result.reason == ("gate:armed" if change_name == "disarm" else "gate:mode"), change_name
        assert port.received == [] and paper_port.received == [], change_name


async def test_unreadable_exchange_blocks_the_write_without_raising_on_submit() -> None:
    class DownPort(RecordingPort):
        async def symbol_rules(self, symbol: str):  # type: ignore[no-untyped-def]
            raise ConnectionError("exchange unreachable")

    port = DownPort(LOOPBACK)
    connector = LiveConnectorV0(LiveConnectorConfig(mode=SafeMode.LIVE_TRADE, armed=True, futures_port=port),
                                environ={})
    result = await connector.submit(CancelOrder(symbol="BTCUSDT", client_order_id=CID))
    assert result.outcome is Outcome.BLOCKED and result.reason.startswith("rules_unavailable:")
    assert "ConnectionError: exchange unreachable" in result.reason and port.received == []


def test_port_urls_default_to_mainnet_and_follow_env(monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    from grinder.binance.rest import BinanceRestClient
    from grinder.connector import BinanceFuturesPort, BinanceFuturesPortConfig

    monkeypatch.delenv("BINANCE_FUTURES_BASE_URL", raising=False)
    monkeypatch.delenv("BINANCE_FUTURES_WS_URL", raising=False)
    cfg = BinanceFuturesPortConfig()
    assert (cfg.base_url, cfg.ws_url) == ("https://fapi.binance.com", "wss://fstream.binance.com")
    assert BinanceFuturesPort(config=cfg).is_mainnet
    monkeypatch.setenv("BINANCE_FUTURES_BASE_URL", "http://127.0.0.1:8765")
    monkeypatch.setenv("BINANCE_FUTURES_WS_URL", "ws://127.0.0.1:8765")
    cfg = BinanceFuturesPortConfig()
    assert (cfg.base_url, cfg.ws_url) == ("http://127.0.0.1:8765", "ws://127.0.0.1:8765")
    assert not BinanceFuturesPort(config=cfg).is_mainnet
    # The port judges Gate 3 on the URL its client really uses: a mismatch is refused.
    with pytest.raises(ValueError, match=r"differs from config\.base_url"):
        BinanceFuturesPort(config=cfg, http_client=BinanceRestClient("https://fapi.binance.com"))
    with pytest.raises(ValueError, match="must start with http"):
        BinanceFuturesPortConfig(base_url="fapi.binance.com")
