"""Historical funding rates: Binance public-data `fundingRate` CSVs and saved REST `fundingRate` answers.

Two formats, one result (`FundingRate` rows per symbol, by time):
- public data (data.binance.vision, USDⓈ-M monthly `<SYMBOL>-fundingRate-YYYY-MM.csv`, plain or zipped):
  `calc_time,funding_interval_hours,last_funding_rate` (a header row or none);
- the REST history `GET /fapi/v1/fundingRate` saved as JSON:
  `[{"symbol","fundingRate","fundingTime","markPrice"}, ...]` (markPrice may be empty).
The symbol of a CSV comes from its file name (or `symbol=`); JSON rows carry it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from grinder.data.binance_files import _open_text, symbol_from_filename
from grinder.data.errors import DataError

CSV_HEADER = ("calc_time", "funding_interval_hours", "last_funding_rate")


@dataclass(frozen=True, slots=True)
class FundingRate:
    """One settlement: at `time_ms` positions pay `rate` × notional (longs pay when positive)."""

    symbol: str
    time_ms: int
    rate: Decimal
    mark_price: Decimal | None = None  # the settlement mark price when the source has it
    interval_h: int = 8


def _decimal(text: str, what: str, where: str) -> Decimal:
    try:
        return Decimal(text.strip())
    except InvalidOperation:
        raise DataError(f"{where}: {what} {text!r} is not a number") from None


def _load_csv(p: Path, symbol: str | None) -> list[FundingRate]:
    sym = symbol or symbol_from_filename(p)
    if sym is None:
        raise DataError(f"{p}: cannot tell the symbol; name it <SYMBOL>-fundingRate-YYYY-MM.csv")
    with _open_text(p) as f:
        text = f.read().decode("utf-8", "replace")
    out = []
    for n, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or not row[0].strip():
            continue
        if n == 1 and not row[0].strip().isdigit():
            if tuple(c.strip() for c in row) != CSV_HEADER:
                raise DataError(f"{p}: unknown header {','.join(row)!r}; expected {','.join(CSV_HEADER)}")
            continue
        if len(row) != 3:
            raise DataError(f"{p}:{n}: expected 3 columns ({','.join(CSV_HEADER)}), found {len(row)}")
        where = f"{p}:{n}"
        try:
            t = int(row[0])
            hours = int(row[1])
        except ValueError:
            raise DataError(f"{where}: calc_time/funding_interval_hours must be integers: {row}") from None
        out.append(FundingRate(sym, t, _decimal(row[2], "last_funding_rate", where), None, hours))
    return out


def _load_json(p: Path, symbol: str | None) -> list[FundingRate]:
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{p}: not a JSON funding-rate history: {exc}") from None
    if not isinstance(doc, list):
        raise DataError(f"{p}: expected the JSON array GET /fapi/v1/fundingRate returns")
    out = []
    for n, row in enumerate(doc):
        where = f"{p}[{n}]"
        if not isinstance(row, dict) or "fundingTime" not in row or "fundingRate" not in row:
            raise DataError(f"{where}: each entry needs fundingTime and fundingRate")
        sym = str(row.get("symbol") or symbol or "")
        if not sym:
            raise DataError(f"{where}: no symbol (pass --symbol)")
        mark = str(row.get("markPrice") or "")
        out.append(
            FundingRate(
                sym,
                int(row["fundingTime"]),
                _decimal(str(row["fundingRate"]), "fundingRate", where),
                _decimal(mark, "markPrice", where) if mark else None,
            )
        )
    return out


def load_funding(paths: Iterable[str | Path], symbol: str | None = None) -> dict[str, list[FundingRate]]:
    """Funding rates per symbol, sorted by time, duplicates (same symbol and time) once."""
    by_symbol: dict[str, dict[int, FundingRate]] = {}
    for raw in paths:
        p = Path(raw)
        if not p.is_file():
            raise DataError(f"funding file {p} does not exist")
        rows = _load_json(p, symbol) if p.suffix.lower() == ".json" else _load_csv(p, symbol)
        if not rows:
            raise DataError(f"{p}: no funding rates in the file")
        for r in rows:
            by_symbol.setdefault(r.symbol, {})[r.time_ms] = r
    return {s: [rows[t] for t in sorted(rows)] for s, rows in sorted(by_symbol.items())}
