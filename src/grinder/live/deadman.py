"""The dead-man's switch: while armed, keep Binance's `POST /fapi/v1/countdownCancelAll` refreshed.

Every `[engine] deadman_interval_s` the engine re-arms a countdown of `deadman_countdown_s` per
symbol. If the process dies (kill -9, host loss, network cut), no refresh arrives and the exchange
cancels every open order of the symbol when the countdown runs out. Note: the exchange cancels ALL
open orders of the symbol on that account, not only ours. While disarmed nothing is refreshed (it is
a write); a timer already running then expires and cancels, which is the safe side.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from grinder.connector.live import LiveConnectorV0

log = logging.getLogger(__name__)


class DeadMansSwitch:
    """Refreshes the exchange's countdown for each symbol on a heartbeat while the gates pass."""

    def __init__(self, connector: LiveConnectorV0, symbols: Sequence[str], countdown_s: float,
                 interval_s: float) -> None:
        self.connector = connector
        self.symbols = tuple(symbols)
        self.countdown_ms = int(countdown_s * 1000)
        self.interval_s = interval_s
        self.refreshes = 0
        self.last_error: str | None = None
        self._active = False

    async def beat(self) -> None:
        """One heartbeat: refresh every symbol's countdown (or note why not)."""
        for sym in self.symbols:
            try:
                block = await self.connector.refresh_countdown(sym, self.countdown_ms)
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("dead-man switch refresh failed symbol=%s error=%s", sym, self.last_error)
                continue
            if block is not None:
                if self._active:
                    log.warning("dead-man switch not refreshed (%s): the exchange cancels our orders "
                                "within %.1fs", block.reason, self.countdown_ms / 1000)
                self._active = False
                return
            self.refreshes += 1
            self.last_error = None
        if not self._active:
            log.info("dead-man switch armed countdown_s=%.1f interval_s=%.1f symbols=%s",
                     self.countdown_ms / 1000, self.interval_s, ",".join(self.symbols))
            self._active = True

    async def run(self) -> None:
        while True:
            await self.beat()
            await asyncio.sleep(self.interval_s)
