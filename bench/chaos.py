"""Chaos suite: seeded fault schedules against `grinder sim` with two HA engines; invariants after each.

Set-up (all on loopback): a redis-server, `grinder sim`, and two `grinder.live.run` processes
(holders a and b) sharing one Redis lease, each reaching the simulator through its own WireProxy
(frame faults, write log). Each schedule applies `--steps` faults drawn with `--seed` from:
the simulator's fault plan (/_sim/faults: unknown outcomes, 503s, rejects, delays, duplicated or
reordered user events, 429s) and actions (/_sim/actions: drop_ws, stall_ws, expire_listen_key),
proxy-level user-stream frame drops and corruption, a proxy cut of every WebSocket, kill -9 of the
leader, SIGSTOP of the leader beyond its lease, and a Redis restart (the lease state is lost).
Then it heals (faults off, processes resumed or restarted), waits for a ready leader (/status
`ready`: while a 429 keeps REST blocked the leader cannot reconcile and says so) and checks:

- missing_fills: exchange fills (by trade id) not in the union of the instances' journals one
  reconcile interval later; phantom_fills: journaled fills the exchange does not list;
- position_mismatches: symbols where the leader's position differs from the exchange's
  (compared on a quiet read: the exchange's position equal before and after the leader's);
- duplicate_client_ids: client order ids the exchange saw more than once (whole run);
- orphan_orders: open orders of ours the leader does not know, still open one interval later;
- nonleader_writes: order writes the exchange accepted from an instance while Redis showed another
  holder both just before and just after the write (lease sampled every 50 ms);
- token_regressions: a fencing token lower than one seen earlier (also across Redis restarts).

    python bench/chaos.py --schedules 20 --seed 1
The last line is one JSON object of counts; exit 0 when every invariant count is 0, else 1.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import random
import signal
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis

from grinder.binance.constants import Security
from grinder.binance.rest import BinanceRestClient
from grinder.chaos.engines import Instance, InstanceSpec, RedisProcess, SimServerProcess, free_port
from grinder.chaos.proxy import FrameFaults, WireProxy
from grinder.core.rules import SymbolRules
from grinder.sim.config import SimConfig

SYMBOLS = ("BTCUSDT", "ETHUSDT")
HOLDERS = ("a", "b")
TTL_MS = 2000
RENEW_MS = 500
INTERVAL_S = 2.0
READY_TIMEOUT_S = 90.0  # a 429 without Retry-After blocks REST to the end of the minute window (≤ 60 s)
INVARIANTS = ("missing_fills", "phantom_fills", "position_mismatches", "duplicate_client_ids",
              "orphan_orders", "nonleader_writes", "token_regressions")
SIM_FAULTS: tuple[dict[str, Any], ...] = (
    {"unknown_after_execute": 2}, {"unavailable_before_execute": 2}, {"reject_rate": 0.3},
    {"delay_ms": 300}, {"duplicate_user_event_rate": 0.3, "reorder_user_event_rate": 0.3},
    {"too_many_requests": 2},
)
FAULTS = ("sim_fault", "drop_ws", "stall_ws", "expire_listen_key", "corrupt_frames", "cut_ws", "kill9",
          "sigstop", "redis_restart")


class LeaseWatch:
    """Samples the lease key every 50 ms: who held it when, and whether tokens ever went backwards."""

    def __init__(self, url: str, key: str) -> None:
        self.redis = aioredis.Redis.from_url(url, socket_timeout=0.2, socket_connect_timeout=0.2,
                                             decode_responses=True)
        self.key = key
        self.times: list[int] = []
        self.holders: list[str | None] = []  # None: no holder; "?": Redis did not answer
        self.max_token = 0
        self.regressions = 0
        self._last_value: str | None = None

    def leader(self) -> str | None:
        for holder in reversed(self.holders):
            if holder != "?":
                return holder
        return None

    async def run(self) -> None:
        while True:
            try:
                raw = await self.redis.get(self.key)
                value = None if raw is None else str(raw)
                holder, token = _holder_token(value)
            except Exception:
                value, holder, token = "?", "?", 0
            if value not in ("?", None) and value != self._last_value:
                if token < self.max_token:
                    self.regressions += 1
                self.max_token = max(self.max_token, token)
            if value != "?":
                self._last_value = value
            self.times.append(time.monotonic_ns())
            self.holders.append(holder)
            await asyncio.sleep(0.05)

    def around(self, t_ns: int) -> str:
        """The lease samples from 1.5 s before to 0.2 s after `t_ns` (holder changes only)."""
        out: list[str] = []
        last: str | None = "-"
        for t, h in zip(self.times, self.holders, strict=True):
            if t_ns - 1_500_000_000 <= t <= t_ns + 200_000_000 and h != last:
                out.append(f"{(t - t_ns) / 1e6:+.0f}ms:{h}")
                last = h
        return " ".join(out)

    def held_between(self, holder: str, t0_ns: int, t1_ns: int) -> bool:
        """Did any sample in [t0, t1] name `holder`? (It led again between two of its writes.)"""
        i, j = bisect.bisect_left(self.times, t0_ns), bisect.bisect_right(self.times, t1_ns)
        return any(h == holder for h in self.holders[max(0, i - 1):j + 1])

    def other_holder_around(self, t_ns: int, me: str) -> bool:
        """True when the samples just before and just after `t_ns` both name a holder other than `me`."""
        i = bisect.bisect_left(self.times, t_ns)
        if i == 0 or i >= len(self.times):
            return False
        before, after = self.holders[i - 1], self.holders[i]
        return all(h not in (me, None, "?") for h in (before, after))


def _holder_token(value: str | None) -> tuple[str | None, int]:
    if value is None:
        return None, 0
    holder, _, token = value.rpartition(":")
    return holder, int(token) if token.isdigit() else 0


class Chaos:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.rng = random.Random(args.seed)
        self.counts: Counter[str] = Counter({k: 0 for k in INVARIANTS})
        self.faults: Counter[str] = Counter()
        self.redis = RedisProcess(workdir)
        self.sim: SimServerProcess | None = None
        self.proxies: dict[str, WireProxy] = {}
        self.inst: dict[str, Instance] = {}
        self.client: BinanceRestClient | None = None
        self.rules: dict[str, SymbolRules] = {}
        self.watch: LeaseWatch | None = None
        self.session: aiohttp.ClientSession | None = None
        self.failures: list[str] = []
        self.writes_during_handover = 0

    # ------------------------------------------------------------------ set-up
    async def start(self) -> None:
        self.redis.start()
        # Request weight is counted per IP: here the two instances and this harness share 127.0.0.1,
        # where production runs each instance on its own host. Three hosts' worth of weight.
        self.sim = SimServerProcess(self.workdir / "sim.log", seed=self.args.seed, speed=self.args.speed,
                                    weight_limit=3 * 2400)
        sim_cfg = SimConfig()
        self.client = BinanceRestClient(self.sim.rest_url, api_key=sim_cfg.api_key,
                                        api_secret=sim_cfg.api_secret)
        self.rules = (await self.client.exchange_info()).rules
        key = f"grinder:leader:chaos:{self.args.seed}"
        for h in HOLDERS:
            proxy = self.proxies[h] = WireProxy(self.sim.rest_url, self.sim.ws_url)
            await proxy.start()
            journal = self.workdir / "journal.sqlite3"
            spec = InstanceSpec(h, proxy.rest_url, proxy.ws_url, self.redis.url, journal, lease_key=key,
                                ttl_ms=TTL_MS, renew_every_ms=RENEW_MS,
                                reconcile_interval_s=INTERVAL_S)
            self.inst[h] = Instance(spec, self.workdir, free_port())
            self.inst[h].start()
        self.watch = LeaseWatch(self.redis.url, key)
        self._watch_task = asyncio.get_running_loop().create_task(self.watch.run())
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2))
        await self.ready_leader(60)

    async def stop(self) -> None:
        await asyncio.gather(*(asyncio.to_thread(i.terminate) for i in self.inst.values()))
        if self.watch is not None:
            self._watch_task.cancel()
            await self.watch.redis.aclose()
        for p in self.proxies.values():
            await p.stop()
        if self.session is not None:
            await self.session.close()
        if self.client is not None:
            await self.client.close()
        if self.sim is not None:
            self.sim.stop()
        self.redis.stop()

    async def status(self, h: str) -> dict[str, Any] | None:
        assert self.session is not None
        try:
            async with self.session.get(f"{self.inst[h].ops_url}/status") as resp:
                body = await resp.json(content_type=None)
                return body if isinstance(body, dict) else None
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
            return None

    async def ready_leader(self, timeout_s: float = READY_TIMEOUT_S) -> str:
        """The instance that leads, once it quotes (takeover done), says it is ready (/readyz: streams
        live, not self-blocked by a 429/418, so it can reconcile) and Redis agrees."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.watch is not None
            h = self.watch.leader()
            if h in self.inst and self.inst[h].alive and not self.inst[h].stopped:
                st = await self.status(h)
                if st and st.get("role") == "leader" and st.get("quoting") and st.get("ready"):
                    return h
            await asyncio.sleep(0.1)
        raise RuntimeError(f"no ready leader within {timeout_s}s (logs in {self.workdir})")

    # ------------------------------------------------------------------ faults
    async def sim_post(self, path: str, body: dict[str, Any]) -> None:
        assert self.session is not None and self.sim is not None
        async with self.session.post(f"{self.sim.rest_url}{path}", json=body) as resp:
            await resp.read()

    async def apply(self, fault: str) -> None:
        assert self.watch is not None
        leader = self.watch.leader() or "a"
        step_s = self.args.step_s
        self.faults[fault] += 1
        if fault == "sim_fault":
            await self.sim_post("/_sim/faults", self.rng.choice(SIM_FAULTS))
        elif fault in ("drop_ws", "expire_listen_key"):
            await self.sim_post(f"/_sim/actions/{fault}", {})
        elif fault == "stall_ws":
            await self.sim_post("/_sim/actions/stall_ws", {"ms": 3000})
        elif fault == "corrupt_frames":
            self.proxies[leader].faults = FrameFaults(0.3, 0.1, "/private/", seed=self.rng.randrange(1 << 30))
        elif fault == "cut_ws":
            await self.proxies[leader].cut_websockets()
        elif fault == "kill9" and leader in self.inst:
            self.inst[leader].kill9()
        elif fault == "sigstop" and leader in self.inst:
            self.inst[leader].signal(signal.SIGSTOP)
            await asyncio.sleep(TTL_MS / 1000 + 0.7)
            self.inst[leader].signal(signal.SIGCONT)
        elif fault == "redis_restart":
            self.redis.stop()
            await asyncio.sleep(0.3)
            self.redis.start()
        await asyncio.sleep(step_s)

    async def heal(self) -> None:
        assert self.session is not None and self.sim is not None
        async with self.session.delete(f"{self.sim.rest_url}/_sim/faults") as resp:
            await resp.read()
        for h, inst in self.inst.items():
            self.proxies[h].faults = FrameFaults()
            if inst.stopped:
                inst.signal(signal.SIGCONT)
            if not inst.alive:
                inst.start()  # same config and journal: a restart after kill -9

    # ------------------------------------------------------------------ invariants
    async def exchange_trades(self) -> set[tuple[str, int]]:
        assert self.client is not None
        out: set[tuple[str, int]] = set()
        for sym in SYMBOLS:
            last = -1
            while True:
                page = await self.client.user_trades(sym, from_id=last + 1, limit=1000)
                out |= {(sym, t.id) for t in page}
                if len(page) < 1000:
                    break
                last = max(t.id for t in page)
        return out

    async def exchange_open_ours(self) -> set[str]:
        assert self.client is not None
        orders = await self.client.open_orders()
        return {o.clientOrderId for o in orders if o.clientOrderId.startswith("grinder_")}

    async def exchange_positions(self) -> dict[str, int]:
        assert self.client is not None
        return {p.symbol: p.amount_lots(self.rules[p.symbol]) for p in await self.client.position_risk()
                if p.symbol in SYMBOLS}

    def journal_trades(self) -> set[tuple[str, int]]:
        out: set[tuple[str, int]] = set()
        for h in HOLDERS:
            path = self.workdir / f"journal.{h}.sqlite3"
            if not path.exists():
                continue
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
            try:
                out |= {(s, int(t)) for s, t in db.execute("SELECT symbol, trade_id FROM fills")}
            except sqlite3.OperationalError:
                pass  # no fills table yet
            finally:
                db.close()
        return out

    async def check(self, n: int) -> None:
        leader = await self.ready_leader()
        trades_before = await self.exchange_trades()
        open_before = await self.exchange_open_ours()
        await asyncio.sleep(INTERVAL_S + 1.0)
        leader = await self.ready_leader()
        journaled = self.journal_trades()
        trades_after = await self.exchange_trades()
        missing = trades_before - journaled
        phantom = journaled - trades_after
        st = await self.status(leader)
        known = set()
        for sym in SYMBOLS:
            book = (st or {}).get("pipeline", {}).get("symbols", {}).get(sym, {})
            known |= {wo.get("client_order_id") for wo in book.get("working_orders", [])}
        orphans = (open_before & await self.exchange_open_ours()) - known
        if st is None:
            orphans = set()
        positions = await self.position_mismatches(leader)
        assert self.client is not None
        ids: list[str] = []
        for sym in SYMBOLS:
            rows = await self.client.request("GET", "/fapi/v1/allOrders", {"symbol": sym, "limit": 1000},
                                             security=Security.SIGNED)
            ids += [r["clientOrderId"] for r in rows]
        dupes = len(ids) - len(set(ids))
        for name, value in (("missing_fills", len(missing)), ("phantom_fills", len(phantom)),
                            ("orphan_orders", len(orphans)), ("position_mismatches", positions)):
            self.counts[name] += value
            if value:
                sample = sorted(map(str, missing | phantom | orphans))[:5]
                self.failures.append(f"schedule {n}: {name}={value} {sample}")
        self.counts["duplicate_client_ids"] = dupes

    async def position_mismatches(self, leader: str) -> int:
        """Leader vs exchange on a quiet read; the count of differing symbols on the last quiet read."""
        result = 0
        deadline = time.monotonic() + 3 * INTERVAL_S + 1.0  # an offset is corrected within two passes
        while time.monotonic() < deadline:
            ex1 = await self.exchange_positions()
            st = await self.status(leader)
            ex2 = await self.exchange_positions()
            if st is None or ex1 != ex2:
                await asyncio.sleep(0.25)
                continue
            ours = {sym: st["pipeline"]["symbols"][sym]["position_lots"] for sym in SYMBOLS}
            result = sum(ours[s] != ex1.get(s, 0) for s in SYMBOLS)
            if result == 0:
                return 0
            await asyncio.sleep(0.25)
        return result

    def final_counts(self) -> dict[str, Any]:
        assert self.watch is not None
        accepted = sorted((w.recv_ns, h, w) for h, p in self.proxies.items() for w in p.writes
                          if 200 <= w.status < 300)
        handover = sum(1 for t, h, _ in accepted if self.watch.other_holder_around(t, h))
        nonleader = 0
        last_t, last_h = 0, ""
        for t, h, w in accepted:
            if last_h and h != last_h and not self.watch.held_between(h, last_t, t):
                nonleader += 1  # the other instance wrote since, and we never led again: two writers
                gap_ms = (t - last_t) / 1e6
                self.failures.append(f"nonleader write by {h}, {gap_ms:.0f} ms after {last_h}'s: "
                                     f"{w.method} {w.path} {w.client_order_id} lease: {self.watch.around(t)}")
            last_t, last_h = t, h
        self.counts["nonleader_writes"] = nonleader
        self.writes_during_handover = handover
        self.counts["token_regressions"] = self.watch.regressions
        writes = sum(len(p.writes) for p in self.proxies.values())
        invariants = {k: self.counts[k] for k in INVARIANTS}
        return {"schedules": self.args.schedules, "seed": self.args.seed, **invariants,
                "faults": dict(sorted(self.faults.items())), "order_writes": writes,
                "writes_while_redis_named_another_holder": self.writes_during_handover,
                "exchange_fills": 0, "violations": sum(invariants.values())}


async def main_async(args: argparse.Namespace) -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="grinder-chaos-") as tmp:
        workdir = Path(args.workdir) if args.workdir else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        chaos = Chaos(args, workdir)
        try:
            await chaos.start()
            for n in range(args.schedules):
                schedule = [chaos.rng.choice(FAULTS) for _ in range(args.steps)]
                for fault in schedule:
                    await chaos.apply(fault)
                await chaos.heal()
                await chaos.check(n)
                print(f"schedule {n}: {','.join(schedule)} -> "
                      f"{ {k: v for k, v in chaos.counts.items() if v} or 'ok'}", flush=True)
            counts = chaos.final_counts()
            counts["exchange_fills"] = len(await chaos.exchange_trades())
        finally:
            await chaos.stop()
        for line in chaos.failures:
            print(line, file=sys.stderr)
    counts["elapsed_s"] = round(time.monotonic() - started, 1)
    print(json.dumps(counts, sort_keys=False))
    return 0 if counts["violations"] == 0 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schedules", type=int, default=20, help="fault schedules to run (default 20)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the schedules and the simulator")
    parser.add_argument("--steps", type=int, default=2, help="faults per schedule (default 2)")
    parser.add_argument("--step-s", type=float, default=1.0, help="seconds each fault lasts (default 1)")
    parser.add_argument("--speed", type=float, default=10.0, help="simulator market speed (default 10)")
    parser.add_argument("--workdir", default="", help="keep logs and journals here (default: a temp dir)")
    args = parser.parse_args(argv)
    if args.schedules < 1 or args.steps < 1 or args.step_s <= 0:
        print("chaos: --schedules and --steps must be >= 1 and --step-s > 0", file=sys.stderr)
        return 2
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())
