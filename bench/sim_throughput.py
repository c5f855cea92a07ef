"""Benchmark `grinder sim`: sustained order place+cancel pairs per second and WS messages fanned out.

Runs the simulator as a subprocess (`grinder sim`, loopback) and one keep-alive HTTP/1.1 client
(a minimal client over asyncio streams, so the figures measure the server rather than client
overhead; `--aiohttp-client` uses aiohttp's client instead):
  1. baseline: GET /fapi/v1/ping round trips per second;
  2. signed LIMIT place + DELETE cancel pairs per second (plus p50/p99 pair latency);
  3. a second simulator with the market at full speed (--speed 0): WS messages per second received
     by N clients subscribed to depth@0ms + bookTicker + aggTrade of both symbols.
Prints the ratio to the ping baseline, then ONE JSON line with the figures (last line).
Usage: python bench/sim_throughput.py [--small] [--seconds S] [--ws-clients N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from urllib.parse import urlencode

import aiohttp

from grinder.sim.auth import sign
from grinder.sim.config import SimConfig

KEY, SECRET = SimConfig().api_key, SimConfig().api_secret


def start_sim(*extra: str) -> tuple[subprocess.Popen[str], str]:
    cmd = [sys.executable, "-m", "grinder.cli", "sim", "--port", "0", "--seed", "3",
           "--orders-limit-10s", "100000000", "--orders-limit-1m", "100000000", "--weight-limit", "100000000",
           *extra]  # fmt: skip
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        m = re.search(r"REST (http://\S+)", line)
        if m:
            return proc, m.group(1)
    proc.kill()
    raise SystemExit("grinder sim did not start within 30 s")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), to separate server cost from client cost."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop_sim(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


class RawHttp:
    """One keep-alive HTTP/1.1 connection: request bytes out, status + JSON body back."""

    def __init__(self, url: str) -> None:
        self._host, self._port = url.removeprefix("http://").split(":")
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> RawHttp:
        self._reader, self._writer = await asyncio.open_connection(self._host, int(self._port))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._writer is not None:
            self._writer.close()

    async def request(self, method: str, target: str) -> tuple[int, bytes]:
        assert self._reader is not None and self._writer is not None
        self._writer.write(
            f"{method} {target} HTTP/1.1\r\nHost: {self._host}\r\nX-MBX-APIKEY: {KEY}\r\n"
            "Content-Length: 0\r\n\r\n".encode()
        )
        head = await self._reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
        return status, await self._reader.readexactly(length)


class AiohttpClient:
    """The same interface over aiohttp's client (one keep-alive connection)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=1), headers={"X-MBX-APIKEY": KEY}
        )

    async def __aenter__(self) -> AiohttpClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._session.close()

    async def request(self, method: str, target: str) -> tuple[int, bytes]:
        async with self._session.request(method, self._url + target) as r:
            return r.status, await r.read()


Client = RawHttp | AiohttpClient


def signed(params: dict[str, str | int]) -> str:
    params = {**params, "timestamp": int(time.time() * 1000)}
    query = urlencode(params)
    return f"{query}&signature={sign(SECRET, query)}"


async def ping_rate(http: Client, seconds: float) -> float:
    n, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        await http.request("GET", "/fapi/v1/ping")
        n += 1
    return n / seconds


async def order_pairs(http: Client, seconds: float) -> tuple[float, list[float]]:
    _, body = await http.request("GET", "/fapi/v1/ticker/bookTicker?symbol=BTCUSDT")
    bid = float(json.loads(body)["bidPrice"])
    price = f"{round(bid * 0.97, 1):.1f}"
    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
             "quantity": "0.010", "price": price}  # fmt: skip
    latencies: list[float] = []
    n, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        status, body = await http.request("POST", f"/fapi/v1/order?{signed(order)}")
        if status != 200:
            raise SystemExit(f"place failed: {body!r}")
        order_id = json.loads(body)["orderId"]
        status, body = await http.request(
            "DELETE", f"/fapi/v1/order?{signed({'symbol': 'BTCUSDT', 'orderId': order_id})}"
        )
        if status != 200:
            raise SystemExit(f"cancel failed: {body!r}")
        latencies.append(time.perf_counter() - t0)
        n += 1
    return n / seconds, latencies


async def ws_fanout(ws_url: str, clients: int, seconds: float) -> float:
    streams = "/".join(
        f"{s}@{k}" for s in ("btcusdt", "ethusdt") for k in ("depth@0ms", "bookTicker", "aggTrade")
    )
    counts = [0] * clients

    async def client(i: int, http: aiohttp.ClientSession) -> None:
        async with http.ws_connect(f"{ws_url}/public/stream?streams={streams}", max_msg_size=0) as ws:
            request = {"method": "SUBSCRIBE", "params": ["btcusdt@aggTrade", "ethusdt@aggTrade"], "id": 1}
            await ws.send_str(json.dumps(request))
            end = time.perf_counter() + seconds
            while time.perf_counter() < end:
                try:
                    await asyncio.wait_for(ws.receive(), end - time.perf_counter())
                except TimeoutError:
                    break
                counts[i] += 1

    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*(client(i, http) for i in range(clients)))
    return sum(counts) / seconds


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="1-second phases (a smoke run in a few seconds)")
    ap.add_argument("--seconds", type=float, default=5.0, help="duration of each phase")
    ap.add_argument("--ws-clients", type=int, default=4, help="WS clients in the fan-out phase")
    ap.add_argument("--aiohttp-client", action="store_true", help="use aiohttp's client for the REST phases")
    args = ap.parse_args()
    seconds = 1.0 if args.small else args.seconds

    proc, url = start_sim()
    try:
        client: Client = AiohttpClient(url) if args.aiohttp_client else RawHttp(url)
        async with client as http:
            await ping_rate(http, 0.3)  # warm-up
            cpu0 = cpu_seconds(proc.pid)
            ping_per_s = await ping_rate(http, seconds)
            server_cpu_us_per_ping = (cpu_seconds(proc.pid) - cpu0) / (ping_per_s * seconds) * 1e6
            cpu0, client0 = cpu_seconds(proc.pid), time.process_time()
            pairs_per_s, lat = await order_pairs(http, seconds)
            pairs = pairs_per_s * seconds
            server_cpu_us_per_pair = (cpu_seconds(proc.pid) - cpu0) / pairs * 1e6
            client_cpu_us_per_pair = (time.process_time() - client0) / pairs * 1e6
    finally:
        stop_sim(proc)

    proc, url = start_sim("--speed", "0")
    try:
        ws_per_s = await ws_fanout(url.replace("http://", "ws://"), args.ws_clients, seconds)
    finally:
        stop_sim(proc)

    lat_us = sorted(x * 1e6 for x in lat)
    p99 = lat_us[min(len(lat_us) - 1, int(len(lat_us) * 0.99))]
    print(f"ping baseline: {ping_per_s:,.0f} round trips/s")
    ratio = 2 * pairs_per_s / ping_per_s
    print(f"place+cancel:  {pairs_per_s:,.0f} pairs/s = {ratio:.2f}× the ping request rate "
          f"(p50 {statistics.median(lat_us):,.0f} us, p99 {p99:,.0f} us per pair)")  # fmt: skip
    print(f"server CPU:    {server_cpu_us_per_pair:,.0f} us per pair "
          f"({server_cpu_us_per_ping:,.0f} us per ping) -> "
          f"capacity {1e6 / server_cpu_us_per_pair:,.0f} pairs/s on one core; "
          f"client CPU {client_cpu_us_per_pair:,.0f} us per pair")  # fmt: skip
    print(f"WS fan-out:    {ws_per_s:,.0f} messages/s to {args.ws_clients} clients")
    print(json.dumps({
        "ping_round_trips_per_s": round(ping_per_s, 1),
        "order_pairs_per_s": round(pairs_per_s, 1),
        "order_requests_vs_ping_ratio": round(2 * pairs_per_s / ping_per_s, 3),
        "pair_p50_us": round(statistics.median(lat_us), 1),
        "pair_p99_us": round(p99, 1),
        "server_cpu_us_per_pair": round(server_cpu_us_per_pair, 1),
        "server_capacity_pairs_per_s": round(1e6 / server_cpu_us_per_pair, 1),
        "client_cpu_us_per_pair": round(client_cpu_us_per_pair, 1),
        "server_cpu_us_per_ping": round(server_cpu_us_per_ping, 1),
        "ws_messages_per_s": round(ws_per_s, 1),
        "ws_clients": args.ws_clients,
        "phase_seconds": seconds,
        "client": "aiohttp" if args.aiohttp_client else "raw-http11",
    }))  # fmt: skip


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())
