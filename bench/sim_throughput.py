"""Benchmark `grinder sim`: sustained order place+cancel pairs per second and WS messages fanned out.

Runs the simulator as a subprocess (`grinder sim`, loopback) and one client:
  1. baseline: GET /fapi/v1/ping round trips per second over one keep-alive connection (a minimal
     HTTP/1.1 client over asyncio streams, so the figure measures the server rather than client
     overhead; `--aiohttp-client` uses aiohttp's client instead);
  2. sequential: signed LIMIT place + DELETE cancel pairs per second on that connection, one request
     at a time (plus p50/p99 pair latency). A strictly sequential client can never exceed half the
     ping rate: every pair is two round trips;
  3. concurrent: ONE aiohttp ClientSession (keep-alive pool of N connections) keeping N pairs in
     flight, as trading clients pipeline their requests (N = each of --concurrency, default 4,8);
  4. a second simulator with the market at full speed (--speed 0): WS messages per second received
     by M clients subscribed to depth@0ms + bookTicker + aggTrade of both symbols.
Server CPU per pair comes from /proc (the simulator process alone). Prints the ratios to the ping
baseline, then ONE JSON line with the figures (last line).
Usage: python bench/sim_throughput.py [--small] [--seconds S] [--concurrency 4,8] [--ws-clients M]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from urllib.parse import urlencode

import aiohttp
import yarl

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


def signed(params: dict[str, str | int] | str) -> str:
    """A signed query string; `params` may be pre-encoded (`urlencode` once, as a fast client does)."""
    query = params if isinstance(params, str) else urlencode(params)
    query = f"{query}&timestamp={time.time_ns() // 1_000_000}"
    return f"{query}&signature={sign(SECRET, query)}"


def order_query(bid: float) -> str:
    """The benchmark's order: a LIMIT BUY 3 % under the bid (rests, never fills), url-encoded once."""
    return urlencode({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                      "quantity": "0.010", "price": f"{round(bid * 0.97, 1):.1f}"})  # fmt: skip


async def ping_rate(http: Client, seconds: float) -> float:
    n, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        await http.request("GET", "/fapi/v1/ping")
        n += 1
    return n / seconds


async def order_pairs(http: Client, seconds: float) -> tuple[float, list[float]]:
    _, body = await http.request("GET", "/fapi/v1/ticker/bookTicker?symbol=BTCUSDT")
    order = order_query(float(json.loads(body)["bidPrice"]))
    latencies: list[float] = []
    n, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        status, body = await http.request("POST", f"/fapi/v1/order?{signed(order)}")
        if status != 200:
            raise SystemExit(f"place failed: {body!r}")
        order_id = json.loads(body)["orderId"]
        status, body = await http.request(
            "DELETE", f"/fapi/v1/order?{signed(f'symbol=BTCUSDT&orderId={order_id}')}"
        )
        if status != 200:
            raise SystemExit(f"cancel failed: {body!r}")
        latencies.append(time.perf_counter() - t0)
        n += 1
    return n / seconds, latencies


async def concurrent_pairs(url: str, in_flight: int, seconds: float) -> tuple[float, list[float], int]:
    """One aiohttp ClientSession, `in_flight` workers each placing and cancelling in a loop.

    Returns (pairs/s of the timed part, pair latencies, all pairs done including the warm-up)."""
    connector = aiohttp.TCPConnector(limit=in_flight, force_close=False)
    async with aiohttp.ClientSession(connector=connector, headers={"X-MBX-APIKEY": KEY}) as session:
        async with session.get(f"{url}/fapi/v1/ticker/bookTicker?symbol=BTCUSDT") as r:
            order = order_query(float(json.loads(await r.read())["bidPrice"]))
        latencies: list[float] = []
        counts = [0] * in_flight

        async def call(method: str, target: str) -> bytes:
            # encoded=True: the signed query goes out byte for byte as signed
            async with session.request(method, yarl.URL(url + target, encoded=True)) as r:
                body = await r.read()
                if r.status != 200:
                    raise SystemExit(f"{method} failed: {body!r}")
                return body

        async def worker(i: int, end: float) -> None:
            while time.perf_counter() < end:
                t0 = time.perf_counter()
                order_id = json.loads(await call("POST", f"/fapi/v1/order?{signed(order)}"))["orderId"]
                await call("DELETE", f"/fapi/v1/order?{signed(f'symbol=BTCUSDT&orderId={order_id}')}")
                latencies.append(time.perf_counter() - t0)
                counts[i] += 1

        await asyncio.gather(*(worker(i, time.perf_counter() + 0.2) for i in range(in_flight)))  # warm-up
        warm_up = sum(counts)
        counts[:] = [0] * in_flight
        latencies.clear()
        start = time.perf_counter()
        await asyncio.gather(*(worker(i, start + seconds) for i in range(in_flight)))
        elapsed = time.perf_counter() - start  # the last pairs finish after `end`
    return sum(counts) / elapsed, latencies, warm_up + sum(counts)


def percentile_us(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1e6


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
    ap.add_argument("--concurrency", default="4,8", help="pairs kept in flight by the concurrent client(s)")
    ap.add_argument("--ws-clients", type=int, default=4, help="WS clients in the fan-out phase")
    ap.add_argument(
        "--aiohttp-client", action="store_true", help="use aiohttp's client for the sequential phases"
    )
    args = ap.parse_args()
    seconds = 1.0 if args.small else args.seconds
    levels = [int(n) for n in args.concurrency.split(",") if n.strip()]
    if not levels or min(levels) < 1:
        raise SystemExit(f"--concurrency {args.concurrency!r}: give positive integers like 4,8")

    proc, url = start_sim()
    concurrent: dict[int, tuple[float, float, float, float]] = {}
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
        for n in levels:
            cpu0, client0 = cpu_seconds(proc.pid), time.process_time()
            rate, clat, done = await concurrent_pairs(url, n, seconds)
            server_us = (cpu_seconds(proc.pid) - cpu0) / done * 1e6
            client_us = (time.process_time() - client0) / done * 1e6
            concurrent[n] = (rate, server_us, client_us, percentile_us(clat, 0.99))
    finally:
        stop_sim(proc)

    proc, url = start_sim("--speed", "0")
    try:
        ws_per_s = await ws_fanout(url.replace("http://", "ws://"), args.ws_clients, seconds)
    finally:
        stop_sim(proc)

    p50, p99 = percentile_us(lat, 0.5), percentile_us(lat, 0.99)
    print(
        f"ping baseline:  {ping_per_s:,.0f} round trips/s (server CPU {server_cpu_us_per_ping:,.0f} us each)"
    )
    print(
        f"sequential:     {pairs_per_s:,.0f} place+cancel pairs/s = {pairs_per_s / ping_per_s:.2f}x the ping "
        f"rate (ceiling 0.50: two round trips a pair); p50 {p50:,.0f} us, p99 {p99:,.0f} us per pair"
    )
    capacity = 1e6 / server_cpu_us_per_pair
    print(
        f"                server CPU {server_cpu_us_per_pair:,.0f} us per pair -> capacity "
        f"{capacity:,.0f} pairs/s on one core; client CPU {client_cpu_us_per_pair:,.0f} us"
    )
    for n, (rate, srv_us, cli_us, cp99) in concurrent.items():
        print(
            f"concurrent {n:>2}:  {rate:,.0f} pairs/s = {rate / ping_per_s:.2f}x the ping rate "
            f"(one aiohttp session, {n} in flight); server CPU {srv_us:,.0f} us/pair, "
            f"client CPU {cli_us:,.0f} us/pair, p99 {cp99:,.0f} us"
        )
    print(f"WS fan-out:     {ws_per_s:,.0f} messages/s to {args.ws_clients} clients")
    out: dict[str, object] = {
        "ping_rt_per_s": round(ping_per_s, 1),
        "pairs_per_s_sequential": round(pairs_per_s, 1),
        "ratio_pairs_vs_ping": round(pairs_per_s / ping_per_s, 3),
        "pair_p50_us": round(p50, 1),
        "pair_p99_us": round(p99, 1),
        "server_cpu_us_per_pair": round(server_cpu_us_per_pair, 1),
        "server_capacity_pairs_per_s": round(capacity, 1),
        "client_cpu_us_per_pair": round(client_cpu_us_per_pair, 1),
        "server_cpu_us_per_ping": round(server_cpu_us_per_ping, 1),
    }
    for n, (rate, srv_us, cli_us, cp99) in concurrent.items():
        out[f"pairs_per_s_concurrent_{n}"] = round(rate, 1)
        out[f"ratio_concurrent_{n}_vs_ping"] = round(rate / ping_per_s, 3)
        out[f"server_cpu_us_per_pair_concurrent_{n}"] = round(srv_us, 1)
        out[f"client_cpu_us_per_pair_concurrent_{n}"] = round(cli_us, 1)
        out[f"pair_p99_us_concurrent_{n}"] = round(cp99, 1)
    out.update({
        "ws_msgs_per_s": round(ws_per_s, 1),
        "ws_clients": args.ws_clients,
        "phase_seconds": seconds,
        "sequential_client": "aiohttp" if args.aiohttp_client else "raw-http11",
        "load_avg_1m": round(os.getloadavg()[0], 2),
    })  # fmt: skip
    print(json.dumps(out))


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())
