#!/usr/bin/env python3
"""kill -9 / restart rounds of the live engine against `grinder sim` (every piece a process).

Each round starts `python -m grinder.live.run` on one journal, waits until it trades, lets it run a
seeded random while and kills it with SIGKILL. A final engine then clears the book with
`POST /control/cancel-all` (a quiet point) and is compared with the simulator:
- journal fills == exchange fills, by (symbol, trade id);
- engine position (/status) == exchange position, per symbol;
- no client order id was used twice on the exchange;
and after `grinder orders flatten` of every symbol, a restart while flat reports position 0.

    python bench/restart_rounds.py --rounds 100 --seed 1      # the figure
    python bench/restart_rounds.py --rounds 10 --max-delay-s 0.5   # CI: tests/live/test_restart_rounds.py

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402
from tests.live.procs import (  # noqa: E402
    SIM_KEY,
    SIM_SECRET,
    EngineProcess,
    SimProcess,
    child_env,
    get_json,
    poll,
    write_config,
)

from grinder.binance.constants import Security  # noqa: E402
from grinder.binance.rest import BinanceRestClient  # noqa: E402
from grinder.live.journal import journal_fills  # noqa: E402

SYMBOLS = ("BTCUSDT", "ETHUSDT")
TOKEN = "restart-rounds-token"


async def exchange_trades(client: BinanceRestClient) -> set[tuple[str, int]]:
    out: set[tuple[str, int]] = set()
    for sym in SYMBOLS:
        after = 0
        while True:
            page = await client.user_trades(sym, from_id=after, limit=1000)
            out.update((sym, t.id) for t in page)
            if len(page) < 1000:
                break
            after = max(t.id for t in page) + 1
    return out


async def exchange_client_ids(client: BinanceRestClient) -> list[str]:
    ids: list[str] = []
    for sym in SYMBOLS:
        after = 0
        while True:
            params = {"symbol": sym, "orderId": after, "limit": 1000}
            rows = await client.request("GET", "/fapi/v1/allOrders", params, security=Security.SIGNED)
            ids.extend(r["clientOrderId"] for r in rows)
            if len(rows) < 1000:
                break
            after = max(int(r["orderId"]) for r in rows) + 1
    return ids


async def exchange_positions(client: BinanceRestClient) -> dict[str, Decimal]:
    return {p.symbol: Decimal(p.positionAmt) for p in await client.position_risk() if p.symbol in SYMBOLS}


async def engine_positions(session: aiohttp.ClientSession, url: str) -> dict[str, Decimal]:
    _, st = await get_json(session, url + "/status")
    return {s: Decimal(st["symbols"][s]["position_qty"]) for s in SYMBOLS}


def start_engine(cfg: Path, log: Path, **env: str) -> EngineProcess:
    return EngineProcess(cfg, log, GRINDER_CONTROL_TOKEN=TOKEN, **env)


async def wait_trading(engine: EngineProcess, timeout: float = 60) -> None:
    await poll(lambda: "Order placed" in engine.log_text(), timeout,
               f"orders placed (log: {engine.log_path})", interval=0.05)


async def run(rounds: int, seed: int, max_delay_s: float, workdir: Path) -> dict[str, Any]:
    rng = random.Random(seed)
    sim = SimProcess(workdir / "sim.log", speed=10.0, seed=seed)
    journal = workdir / "journal.sqlite3"
    cfg = write_config(workdir / "grinder.toml", sim, journal)
    client = sim.client()
    started = time.monotonic()
    try:
        for r in range(rounds):
            engine = start_engine(cfg, workdir / f"engine{r:03d}.log")
            await wait_trading(engine)
            await asyncio.sleep(rng.uniform(0.0, max_delay_s))
            engine.kill9()
        final = start_engine(cfg, workdir / "engine_final.log")
        async with aiohttp.ClientSession() as session:
            await wait_trading(final)
            async with session.post(final.url + "/control/cancel-all",
                                    headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
                report = await resp.json()
            # Quiet point: nothing of ours rests; the stream delivers the last fills within moments.
            mismatch = None
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                ours, theirs = await engine_positions(session, final.url), await exchange_positions(client)
                mismatch = {s: (str(ours[s]), str(theirs.get(s, Decimal(0)))) for s in SYMBOLS
                            if ours[s] != theirs.get(s, Decimal(0))}
                if not mismatch:
                    break
                await asyncio.sleep(0.1)
        final_rc = final.terminate()
        trades = await exchange_trades(client)
        journaled = [(f["symbol"], f["trade_id"]) for f in journal_fills(journal)]
        client_ids = await exchange_client_ids(client)
        dup_ids = sum(n - 1 for n in Counter(client_ids).values() if n > 1)
        # Restart while flat: close both positions, start disarmed, read the engine's positions.
        env = child_env(BINANCE_API_KEY=SIM_KEY, BINANCE_API_SECRET=SIM_SECRET)
        for sym in SYMBOLS:
            cmd = [sys.executable, "-m", "grinder.cli", "orders", "flatten", "--config", str(cfg),
                   "--symbol", sym, "--confirm"]
            subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, check=False)
        flat_exchange = await exchange_positions(client)
        flat = start_engine(cfg, workdir / "engine_flat.log", GRINDER_CONNECTOR_ARMED="false")
        async with aiohttp.ClientSession() as session:
            await poll(lambda: "engine started" in flat.log_text(), 60, "the flat restart")
            flat_engine = await engine_positions(session, flat.url)
        flat_rc = flat.terminate()
    finally:
        await client.close()
        sim.stop()
    return {
        "rounds": rounds,
        "seed": seed,
        "exchange_fills": len(trades),
        "journal_fills": len(journaled),
        "missing_fills": len(trades - set(journaled)),
        "extra_fills": len(set(journaled) - trades),
        "duplicate_journal_fills": len(journaled) - len(set(journaled)),
        "position_mismatch": mismatch or {},
        "orders_on_exchange": len(client_ids),
        "duplicate_client_ids": dup_ids,
        "cancel_all_clean": bool(report.get("clean")),
        "final_exit_code": final_rc,
        "flat_exchange_position": {s: str(v) for s, v in flat_exchange.items()},
        "flat_restart_engine_position": {s: str(v) for s, v in flat_engine.items()},
        "flat_exit_code": flat_rc,
        "seconds": round(time.monotonic() - started, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-delay-s", type=float, default=1.5, help="longest run after the first order")
    parser.add_argument("--workdir", type=Path, default=None, help="keep logs and the journal here")
    args = parser.parse_args()
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        result = asyncio.run(run(args.rounds, args.seed, args.max_delay_s, args.workdir))
    else:
        with tempfile.TemporaryDirectory(prefix="grinder-restart-") as tmp:
            result = asyncio.run(run(args.rounds, args.seed, args.max_delay_s, Path(tmp)))
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
