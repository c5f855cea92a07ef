"""Market-data readers: Binance public-data files, raw stream captures and GRINDER recordings.

Two ways in:
- `load_tape(paths, rules) -> Tape`: every event merged in event-time order as numpy columns
  (ticks, lots, ms): the backtest hot path.
- `iter_events(paths, rules) -> Iterator[MarketEvent]`: the same events as core event objects
  (BookTicker, Trade, DepthUpdate, DepthSnapshot, MarkPrice): replay and tests.
"""

from grinder.data.binance_files import QuoteColumns, TradeColumns, load_quotes, load_trades, sniff_csv
from grinder.data.errors import DataError
from grinder.data.recording import RecordingWriter, iter_recording
from grinder.data.sources import expand_paths, iter_events, load_tape
from grinder.data.symbols import builtin_rules, load_exchange_info
from grinder.data.tape import OTHER, QUOTE, TRADE_BUY_AGGR, TRADE_SELL_AGGR, Tape, event_time_ms

__all__ = [
    "OTHER",
    "QUOTE",
    "TRADE_BUY_AGGR",
    "TRADE_SELL_AGGR",
    "DataError",
    "QuoteColumns",
    "RecordingWriter",
    "Tape",
    "TradeColumns",
    "builtin_rules",
    "event_time_ms",
    "expand_paths",
    "iter_events",
    "iter_recording",
    "load_exchange_info",
    "load_quotes",
    "load_tape",
    "load_trades",
    "sniff_csv",
]
