"""Orders over the WebSocket API (`/ws-fapi/v1`) against the simulator, over real loopback sockets.

A small TCP relay sits between the WebSocket API client and the simulator so a test can cut the
socket at a chosen moment (after the simulator executed a request, before its answer arrives) or
refuse connections (the session is down). REST always goes straight to the simulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
from prometheus_client import REGISTRY

from grinder.binance.auth import Credentials
from grinder.binance.config import BinanceConfig
from grinder.binance.constants import ENDPOINTS
from grinder.binance.errors import BinanceAPIError, ErrorKind, RateLimitRefused
from grinder.binance.rest import BinanceRestClient
from grinder.binance.ws_api import BinanceWsApiClient, ws_api_url_for
from grinder.connector import BinanceFuturesPort, BinanceFuturesPortConfig
from grinder.core.commands import AmendOrder, CancelOrder, Outcome, PlaceOrder
from grinder.core.enums import OrderStatus, OrderType, Side
from grinder.core.errors import ErrorCode
from grinder.core.ids import ClientOrderIdFactory
from grinder.sim.server import SimServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]
FAST_RECONNECT = BinanceConfig(timeout_s=5.0, reconnect_initial_s=0.05, reconnect_max_s=0.2, heartbeat_s=30.0)


class CutRelay:
    """Loopback TCP relay: `cut_next_answer()` drops the next server→client bytes and closes both
    sockets; `down = True` closes every connection and refuses new ones."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.down = False
        self._cut_next = False
        self.answers_cut = 0
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self.close_all()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def cut_next_answer(self) -> None:
        self._cut_next = True

    def set_down(self, down: bool) -> None:
        self.down = down
        if down:
            self.close_all()

    def close_all(self) -> None:
        for w in self._writers:
            w.close()
        self._writers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.down:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers += [writer, up_writer]
        await asyncio.gather(self._pipe(reader, up_writer, (writer, up_writer), answers=False),
                             self._pipe(up_reader, writer, (writer, up_writer), answers=True))

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter,
                    both: tuple[asyncio.StreamWriter, ...], *, answers: bool) -> None:
        try:
            while data := await src.read(1 << 16):
                if answers and self._cut_next and b"101 Switching" not in data:
                    self._cut_next = False
                    self.answers_cut += 1
                    break  # the simulator answered: it executed the request; the client never sees it
                dst.write(data)
                await dst.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            for w in both:
                w.close()


@dataclass
class WsRig:
    sim: SimServer
    port: BinanceFuturesPort
    ws: BinanceWsApiClient
    rest: BinanceRestClient
    relay: CutRelay
    ids: ClientOrderIdFactory


def transport_count(name: str) -> float:
    return REGISTRY.get_sample_value("grinder_connector_order_requests_ok_total", {"transport": name}) or 0.0


async def until(cond: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


@pytest.fixture
async def rig(sim_server_manual: SimServer) -> AsyncIterator[WsRig]:
    sim = sim_server_manual
    relay = CutRelay(sim.port)
    await relay.start()
    rest = BinanceRestClient(sim.rest_url, api_key=sim.api_key, api_secret=sim.api_secret, retry_backoff_s=0.0)
    ws = BinanceWsApiClient(f"ws://127.0.0.1:{relay.port}/ws-fapi/v1", rest,
                            Credentials(sim.api_key, sim.api_secret), config=FAST_RECONNECT)
    port = BinanceFuturesPort(BinanceFuturesPortConfig(base_url=sim.rest_url, retry_backoff_s=0.0),
                              http_client=rest, ws_client=ws)
    await port.start()
    assert ws.is_connected and ws.connects == 1
    yield WsRig(sim, port, ws, rest, relay, ClientOrderIdFactory("w", 1_700_000_000))
    await port.close()
    await relay.stop()


async def place_cmd(r: WsRig, level: str = "b1", symbol: str = "BTCUSDT") -> PlaceOrder:
    rules = await r.port.symbol_rules(symbol)
    price = rules.round_price(await r.port.mid_price(symbol) / 2, "floor")
    return PlaceOrder(symbol=symbol, side=Side.BUY, order_type=OrderType.LIMIT, qty_lots=4,
                      client_order_id=r.ids.next_id(symbol, level), price_ticks=rules.price_to_ticks(price))


def our_orders(r: WsRig, symbol: str = "BTCUSDT") -> list[str]:
    return [o.client_order_id for o in r.sim.venue.all_orders(symbol)]


async def test_place_modify_cancel_go_over_the_ws_api(rig: WsRig) -> None:
    ws_before, rest_before = transport_count("ws"), transport_count("rest")
    cmd = await place_cmd(rig)
    placed = await rig.port.submit(cmd)
    assert placed.outcome is Outcome.ACCEPTED and placed.status is OrderStatus.NEW
    amend = AmendOrder(symbol="BTCUSDT", client_order_id=cmd.client_order_id, side=Side.BUY,
                       price_ticks=(cmd.price_ticks or 0) - 10, qty_lots=4)
    amended = await rig.port.submit(amend)
    assert amended.outcome is Outcome.ACCEPTED
    on_exchange = rig.sim.venue.get_order(symbol="BTCUSDT", client_order_id=cmd.client_order_id)
    assert on_exchange.price_ticks == amend.price_ticks
    state = await rig.port.query_order("BTCUSDT", cmd.client_order_id)
    assert state is not None and state.price_ticks == amend.price_ticks
    cancelled = await rig.port.submit(CancelOrder(symbol="BTCUSDT", client_order_id=cmd.client_order_id))
    assert cancelled.outcome is Outcome.ACCEPTED and cancelled.status is OrderStatus.CANCELED
    assert transport_count("ws") == ws_before + 4  # place, modify, status, cancel
    assert transport_count("rest") == rest_before
    assert our_orders(rig) == [cmd.client_order_id]


async def test_exchange_rejection_over_ws_keeps_the_rest_taxonomy(rig: WsRig) -> None:
    cancel = await rig.port.submit(CancelOrder(symbol="BTCUSDT", client_order_id="grinder_w_nope_1"))
    assert cancel.outcome is Outcome.REJECTED and cancel.code == ErrorCode.CANCEL_REJECTED
    rig.sim.control.set_faults(unavailable_before_execute=1)  # 503 "Service Unavailable.": not executed
    cmd = await place_cmd(rig)
    placed = await rig.port.submit(cmd)
    assert placed.outcome is Outcome.ACCEPTED
    assert our_orders(rig) == [cmd.client_order_id]  # queried absent, resent with the same id: one order


async def test_socket_cut_after_the_exchange_executed_is_resolved_by_query_without_a_duplicate(
    rig: WsRig,
) -> None:
    cmd = await place_cmd(rig)
    rig.relay.cut_next_answer()
    placed = await rig.port.submit(cmd)
    assert rig.relay.answers_cut == 1
    assert placed.outcome is Outcome.ACCEPTED and placed.status is OrderStatus.NEW
    assert our_orders(rig) == [cmd.client_order_id]  # exactly one order: never resent blind
    await until(lambda: rig.ws.is_connected and rig.ws.connects == 2, "the session to be re-established")
    rig.relay.cut_next_answer()
    cancelled = await rig.port.submit(CancelOrder(symbol="BTCUSDT", client_order_id=cmd.client_order_id))
    assert rig.relay.answers_cut == 2
    assert cancelled.outcome is Outcome.ACCEPTED and cancelled.status is OrderStatus.CANCELED
    await until(lambda: rig.ws.is_connected and rig.ws.connects == 3, "the session to be re-established")


async def test_rest_carries_orders_while_the_session_is_down_then_ws_again(rig: WsRig) -> None:
    rig.relay.set_down(True)
    await until(lambda: not rig.ws.is_connected, "the session to notice the drop")
    ws_before, rest_before = transport_count("ws"), transport_count("rest")
    cmd = await place_cmd(rig)
    placed = await rig.port.submit(cmd)
    assert placed.outcome is Outcome.ACCEPTED
    assert transport_count("rest") == rest_before + 1 and transport_count("ws") == ws_before
    rig.relay.set_down(False)
    await until(lambda: rig.ws.is_connected, "the session to come back", timeout=10.0)
    assert rig.ws.connects >= 2
    cancelled = await rig.port.submit(CancelOrder(symbol="BTCUSDT", client_order_id=cmd.client_order_id))
    assert cancelled.outcome is Outcome.ACCEPTED
    assert transport_count("ws") == ws_before + 1
    assert our_orders(rig) == [cmd.client_order_id]


async def test_the_ha_write_fence_refuses_a_ws_write_before_anything_is_sent(rig: WsRig) -> None:
    rig.rest.write_fence = lambda: "lease lost"  # what `attach_self_healing` wires under HA
    cmd = await place_cmd(rig)
    refused = await rig.port.submit(cmd)
    assert refused.outcome is Outcome.BLOCKED and refused.reason == "fenced: lease lost"
    assert our_orders(rig) == []
    rig.rest.write_fence = None
    assert (await rig.port.submit(cmd)).outcome is Outcome.ACCEPTED


async def test_rate_limit_answers_feed_the_shared_governor(rig: WsRig) -> None:
    cmd = await place_cmd(rig)
    await rig.ws.new_order(cmd, await rig.port.symbol_rules("BTCUSDT"))
    used, _ = rig.rest.governor.usage()["ORDERS_10S"]
    assert used >= 1  # adopted from the answer's rateLimits (or reserved before sending)
    rig.sim.control.set_faults(too_many_requests=1)
    with pytest.raises(BinanceAPIError) as info:
        await rig.ws.query_order("BTCUSDT", client_order_id=cmd.client_order_id)
    assert info.value.http_status == 429 and info.value.kind is ErrorKind.RETRYABLE
    # The 429 blocks the weight pool: the next request waits for the window (refused at deadline 0).
    with pytest.raises(RateLimitRefused):
        await rig.rest.governor.acquire(ENDPOINTS[("GET", "/fapi/v1/order")], {"symbol": "BTCUSDT"},
                                        deadline_s=0.0)


async def test_a_ban_answer_with_retry_after_holds_every_request_until_then(rig: WsRig) -> None:
    from grinder.binance.ws_api import _ANSWER

    until = rig.rest.governor.server_now_ms() + 30_000
    answer = _ANSWER.decode(b'{"id":"7","status":418,"error":{"code":-1003,"msg":"Way too many requests; '
                            b'IP banned","data":{"retryAfter":%d}}}' % until)
    with pytest.raises(BinanceAPIError) as info:
        await rig.ws._order_or_raise(answer, ENDPOINTS[("POST", "/fapi/v1/order")], "WS order.place")
    assert info.value.http_status == 418
    assert rig.rest.governor.banned_until_ms >= until - 5  # the exchange's time, not our default 2 min
    assert rig.rest.governor.banned_until_ms <= until + 5


async def test_no_secret_in_logs_or_errors_on_the_ws_path(
    sim_server_manual: SimServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sim = sim_server_manual
    secret, key = "wrong-s3cr3t-never-printed", "wrong-key-never-printed-0123"
    rest = BinanceRestClient(sim.rest_url, api_key=sim.api_key, api_secret=sim.api_secret)
    ws = BinanceWsApiClient(sim.ws_api_url, rest, Credentials(key, secret))
    good = BinanceWsApiClient(sim.ws_api_url, rest, Credentials(sim.api_key, sim.api_secret))
    port = BinanceFuturesPort(BinanceFuturesPortConfig(base_url=sim.rest_url), http_client=rest, ws_client=ws)
    try:
        await port.start()
        await good.start()
        ids = ClientOrderIdFactory("w", 1)
        rules = await port.symbol_rules("BTCUSDT")
        price_ticks = rules.price_to_ticks(rules.round_price(await port.mid_price("BTCUSDT") / 2, "floor"))
        cmd = PlaceOrder(symbol="BTCUSDT", side=Side.BUY, order_type=OrderType.LIMIT, qty_lots=4,
                         client_order_id=ids.next_id("BTCUSDT", "b1"), price_ticks=price_ticks)
        refused = await port.submit(cmd)
        assert refused.outcome is Outcome.REJECTED and refused.code == ErrorCode.REJECTED_API_KEY
        ok = await good.new_order(dataclass_replace_id(cmd, ids.next_id("BTCUSDT", "b2")), rules)
        assert ok.status == "NEW"
        with pytest.raises(BinanceAPIError) as info:
            await good.cancel_order("BTCUSDT", client_order_id="grinder_w_absent_9")
    finally:
        await good.close()
        await port.close()
    texts = [refused.reason, str(info.value), repr(info.value), repr(ws), repr(good), repr(port)]
    texts += [rec.getMessage() for rec in caplog.records if not rec.name.startswith("grinder.sim")]
    joined = "\n".join(texts)
    for s in (secret, key, sim.api_secret, sim.api_key):
        assert s not in joined
    assert not re.search(r"\b[0-9a-f]{64}\b", joined)  # no HMAC-SHA256 signature


def dataclass_replace_id(cmd: PlaceOrder, cid: str) -> PlaceOrder:
    import msgspec

    return msgspec.structs.replace(cmd, client_order_id=cid)


def test_ws_api_url_is_derived_beside_the_stream_url() -> None:
    assert ws_api_url_for("wss://fstream.binance.com") == "wss://ws-fapi.binance.com/ws-fapi/v1"
    assert ws_api_url_for("wss://fstream.binancefuture.com") == "wss://testnet.binancefuture.com/ws-fapi/v1"
    assert ws_api_url_for("ws://127.0.0.1:8765/") == "ws://127.0.0.1:8765/ws-fapi/v1"


async def test_a_mainnet_ws_api_beside_a_loopback_rest_url_is_refused() -> None:
    rest = BinanceRestClient("http://127.0.0.1:1", api_key="k", api_secret="s")
    ws = BinanceWsApiClient("wss://ws-fapi.binance.com/ws-fapi/v1", rest, Credentials("k", "s"))
    with pytest.raises(ValueError, match="mainnet"):
        BinanceFuturesPort(BinanceFuturesPortConfig(base_url="http://127.0.0.1:1"), http_client=rest, ws_client=ws)
    with contextlib.suppress(Exception):
        await rest.close()
