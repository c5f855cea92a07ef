"""Client order ids: `grinder_{strategy}_{symbol}_{level}_{epoch}_{seq}`, at most 36 characters.

The `grinder_` prefix marks an order as ours for reconciliation and remediation. The epoch is the
second the issuing process started, so ids stay unique across restarts; when the decimal form
would exceed Binance's 36-character limit the epoch and sequence are written in base 36, and if
it is still too long (symbols of 14+ characters) the symbol part, which is informational only
(the exchange reports each order's symbol), is shortened. Epoch + sequence keep ids unique.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CLIENT_ORDER_ID_RE = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
GRINDER_PREFIX = "grinder_"
MAX_CLIENT_ORDER_ID_LEN = 36
# Worst case: 8 (prefix) + 6 + 1 + 1 + 5 + 1 + 7 (base-36 epoch) + 1 + 6 (base-36 seq < 2.1e9) = 36,
# so every id fits, even with the symbol part dropped entirely.
_STRATEGY_RE = re.compile(r"^[A-Za-z0-9.:/-]{1,6}$")
_LEVEL_RE = re.compile(r"^[A-Za-z0-9.:/-]{1,5}$")
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def _base36(n: int) -> str:
    if n < 0:
        raise ValueError("base36 needs a non-negative integer")
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = _B36[r] + out
        if n == 0:
            return out


def is_valid_client_order_id(value: str) -> bool:
    return bool(CLIENT_ORDER_ID_RE.match(value))


def is_grinder_order(client_order_id: str) -> bool:
    """True when the id carries GRINDER's prefix (remediation only ever touches these)."""
    return client_order_id.startswith(GRINDER_PREFIX)


@dataclass(frozen=True, slots=True)
class ParsedClientOrderId:
    strategy: str
    symbol: str
    level: str
    epoch: str
    seq: str


def parse_client_order_id(client_order_id: str) -> ParsedClientOrderId | None:
    """Split one of our ids into its parts; None for ids that are not GRINDER's."""
    if not is_grinder_order(client_order_id):
        return None
    parts = client_order_id[len(GRINDER_PREFIX) :].split("_")
    if len(parts) != 5:
        return None
    return ParsedClientOrderId(*parts)


class ClientOrderIdFactory:
    """Issues unique client order ids for one process lifetime (epoch) and strategy tag."""

    __slots__ = ("_epoch", "_seq", "strategy")

    def __init__(self, strategy: str, epoch_s: int, start_seq: int = 0) -> None:
        if not _STRATEGY_RE.match(strategy):
            raise ValueError(
                f"strategy tag {strategy!r} is invalid: use 1-6 characters from [A-Za-z0-9.:/-] (no '_')"
            )
        self.strategy = strategy
        self._epoch = epoch_s
        self._seq = start_seq

    @property
    def epoch_s(self) -> int:
        return self._epoch

    def next_id(self, symbol: str, level: str) -> str:
        if not _LEVEL_RE.match(level):
            raise ValueError(
                f"level tag {level!r} is invalid: use 1-5 characters from [A-Za-z0-9.:/-] (no '_')"
            )
        self._seq += 1
        cid = f"{GRINDER_PREFIX}{self.strategy}_{symbol}_{level}_{self._epoch}_{self._seq}"
        if len(cid) <= MAX_CLIENT_ORDER_ID_LEN:
            return cid
        tail = f"_{level}_{_base36(self._epoch)}_{_base36(self._seq)}"
        head = f"{GRINDER_PREFIX}{self.strategy}_"
        room = MAX_CLIENT_ORDER_ID_LEN - len(head) - len(tail)
        if room < 0:
            raise ValueError(
                f"client order id for sequence {self._seq} cannot fit in 36 characters: "
                "shorten the strategy or level tag"
            )
        return f"{head}{symbol[:room]}{tail}"
