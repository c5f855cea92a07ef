"""A falling ETHUSDT market as Binance public-data CSV files, for `grinder sim --data DIR`.

The bid/ask step down every 100 ms and a sell prints at the bid each step, so a grid's bids fill
all the way down: the long position and its loss grow until a loss limit stops it.
"""

from __future__ import annotations

from pathlib import Path


def write_falling_market(directory: Path, *, start: float = 3000.0, drop_pct: float = 4.0,
                         seconds: float = 90.0, t0_ms: int = 1_760_000_000_000) -> Path:
    """Write ETHUSDT bookTicker + aggTrades CSVs into `directory`; returns it."""
    directory.mkdir(parents=True, exist_ok=True)
    steps = int(seconds * 10)
    quotes = ["update_id,best_bid_price,best_bid_qty,best_ask_price,best_ask_qty,transaction_time,event_time"]
    trades = ["agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker"]
    for i in range(steps):
        t = t0_ms + i * 100
        mid = start * (1 - drop_pct / 100 * i / steps)
        bid, ask = round(mid - 0.05, 2), round(mid + 0.05, 2)
        quotes.append(f"{i + 1},{bid:.2f},25.000,{ask:.2f},25.000,{t},{t}")
        trades.append(f"{i + 1},{bid:.2f},2.000,{i + 1},{i + 1},{t},true")
    (directory / "ETHUSDT-bookTicker-2025-10-09.csv").write_text("\n".join(quotes) + "\n", encoding="utf-8")
    (directory / "ETHUSDT-aggTrades-2025-10-09.csv").write_text("\n".join(trades) + "\n", encoding="utf-8")
    return directory
