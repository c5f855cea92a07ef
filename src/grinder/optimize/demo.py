"""`grinder optimize --demo`: generated market data, a base config and a search space, ready to run.

The data are seeded BTCUSDT-like days in Binance's public-data Parquet layout (the files
`grinder data convert` writes), so the demo exercises exactly the path real data takes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from grinder.optimize.windows import DAY_MS

DEMO_START_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z

DEMO_CONFIG = """\
# grinder optimize --demo: base configuration (every key not searched keeps this value)
[venue]
fill_model = "touch"
initial_balance = "10000"

[controller]
enabled = false

[toxicity]
enabled = false

[grid]
order_qty = "0.002"
max_position = "0.02"
"""

DEMO_SPACE = """\
# grinder optimize --demo: what the study searches
[study]
name = "demo"
sampler = "tpe"
objectives = ["net_pnl", "max_drawdown"]
seed = 7

[constraints]
max_position_qty = 0.02

[params.grid]
spacing_bps = { low = 2.0, high = 30.0, log = true }
levels = { low = 1, high = 6 }
reanchor_spacings = { low = 0.5, high = 3.0 }
"""


def write_day(out: Path, day: int, *, quotes: int, trades: int, seed: int) -> list[Path]:
    """One UTC day of bookTicker + aggTrades for BTCUSDT (tick 0.1, lot 0.001)."""
    rng = np.random.default_rng(seed + day)
    t0 = DEMO_START_MS + day * DAY_MS
    n = quotes + trades
    times = t0 + np.sort(rng.choice(DAY_MS - 1000, size=n, replace=False)).astype(np.int64)
    is_trade = np.zeros(n, dtype=bool)
    is_trade[rng.choice(np.arange(1, n), size=trades, replace=False)] = True
    # a ranging market: mid reverts to the day's level (AR(1), half-life ~140 quotes, ~10 bps swings)
    shocks = rng.normal(0.0, 60.0, quotes)
    dev = np.empty(quotes)
    acc = 0.0
    for i in range(quotes):
        acc = acc * 0.995 + shocks[i]
        dev[i] = acc
    mid = 600_000 + day * 300 + np.rint(dev).astype(np.int64)
    spread = 1 + (rng.random(quotes) < 0.15).astype(np.int64)
    bid = mid - spread // 2
    ask = bid + spread
    q_times = times[~is_trade]
    last_q = np.cumsum(~is_trade)[is_trade] - 1
    seller = rng.random(trades) < 0.5
    t_px = np.where(seller, bid[last_q], ask[last_q])
    date = np.datetime64(t0, "ms").astype("datetime64[D]")
    book = out / f"BTCUSDT-bookTicker-{date}.parquet"
    aggs = out / f"BTCUSDT-aggTrades-{date}.parquet"
    pq.write_table(
        pa.table(
            {
                "update_id": 4_000_000_000_000 + day * 10_000_000 + np.arange(quotes, dtype=np.int64),
                "best_bid_price": bid / 10.0,
                "best_bid_qty": rng.integers(1, 4000, quotes) / 1000.0,
                "best_ask_price": ask / 10.0,
                "best_ask_qty": rng.integers(1, 4000, quotes) / 1000.0,
                "transaction_time": q_times,
                "event_time": q_times + 1,
            }
        ),
        book,
    )
    pq.write_table(
        pa.table(
            {
                "agg_trade_id": 2_000_000_000 + day * 10_000_000 + np.arange(trades, dtype=np.int64),
                "price": t_px / 10.0,
                "quantity": rng.integers(1, 200, trades) / 1000.0,
                "first_trade_id": np.arange(trades, dtype=np.int64),
                "last_trade_id": np.arange(trades, dtype=np.int64),
                "transact_time": times[is_trade],
                "is_buyer_maker": seller,
            }
        ),
        aggs,
    )
    return [book, aggs]


def write_demo(out: Path, *, days: int = 4, quotes: int = 1500, trades: int = 500, seed: int = 2024) -> Path:
    """Data in `out/data`, `out/base.toml` and `out/space.toml`; returns the data directory."""
    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    for day in range(days):
        write_day(data, day, quotes=quotes, trades=trades, seed=seed)
    (out / "base.toml").write_text(DEMO_CONFIG, encoding="utf-8")
    (out / "space.toml").write_text(DEMO_SPACE, encoding="utf-8")
    return data
