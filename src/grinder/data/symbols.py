"""Symbol rules for data files: the built-in BTCUSDT/ETHUSDT rules or an exchangeInfo JSON file."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from grinder.core.rules import SymbolRules, btcusdt_rules, ethusdt_rules
from grinder.data.errors import DataError

RulesArg = SymbolRules | Mapping[str, SymbolRules]

_BUILTIN = {"BTCUSDT": btcusdt_rules, "ETHUSDT": ethusdt_rules}


def builtin_rules(symbol: str) -> SymbolRules:
    """Typical rules of a well-known perpetual; other symbols need an exchangeInfo file."""
    maker = _BUILTIN.get(symbol.upper())
    if maker is None:
        raise DataError(
            f"no built-in symbol rules for {symbol}: pass --rules exchangeInfo.json "
            f"(GET /fapi/v1/exchangeInfo saved to a file); built-in: {', '.join(sorted(_BUILTIN))}"
        )
    return maker()


def load_exchange_info(path: str | Path) -> dict[str, SymbolRules]:
    """Every symbol's rules from a saved `GET /fapi/v1/exchangeInfo` response."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read exchangeInfo file {path}: {exc}") from None
    symbols = doc.get("symbols") if isinstance(doc, dict) else None
    if not isinstance(symbols, list):
        raise DataError(f"{path} is not an exchangeInfo response (no 'symbols' list)")
    return {str(s["symbol"]): SymbolRules.from_exchange_info(s) for s in symbols}


def as_rules_map(rules: RulesArg | None, symbols: Iterable[str] = ()) -> dict[str, SymbolRules]:
    """Normalise a rules argument to symbol -> rules, filling in built-ins for the named symbols."""
    out = {rules.symbol: rules} if isinstance(rules, SymbolRules) else dict(rules or {})
    for sym in symbols:
        if sym not in out:
            out[sym] = builtin_rules(sym)
    return out


def rules_for(rules: Mapping[str, SymbolRules], symbol: str) -> SymbolRules:
    found = rules.get(symbol)
    if found is None:
        try:
            return builtin_rules(symbol)
        except DataError:
            raise DataError(
                f"no symbol rules for {symbol}: known {', '.join(sorted(rules)) or 'none'}; "
                "pass --rules exchangeInfo.json"
            ) from None
    return found
