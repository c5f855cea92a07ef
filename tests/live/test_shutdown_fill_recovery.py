"""A fill whose user-stream frame is lost before a later streamed fill is journaled at a clean stop.

Deterministic form of the race `test_reconcile_live.py` only sometimes hits: the proxy drops exactly
one frame, the first fill (`ORDER_TRADE_UPDATE` with execution type TRADE) of the user stream, and
relays every other. A later fill is then streamed and journaled, so the newest journaled trade id
sits above the lost one. The reconcile interval is an hour: between the start pass and the stop no
pass runs after the two start-up ones, so only shutdown's last look can find the lost fill. It must read the exchange's trade
list from the reconcile cursor; reading after the newest journaled trade id skips the lost fill.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from grinder.chaos.engines import Instance, InstanceSpec
from grinder.chaos.proxy import FrameFaults, WireProxy
from grinder.live.journal import journal_fills
from tests.live.procs import SimProcess, free_port, get_json, poll, sim_trades

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@dataclass
class DropFirstFill(FrameFaults):
    """Drops the first user-stream fill frame and nothing else; `lost` is its (symbol, trade id)."""

    armed: bool = False
    lost: tuple[str, int] | None = None

    def apply(self, path: str, text: str) -> str | None:
        if not self.armed or self.lost is not None or self.path_part not in path:
            return text
        try:
            event = json.loads(text)
        except ValueError:
            return text
        order = event.get("o") if isinstance(event, dict) else None
        if event.get("e") == "ORDER_TRADE_UPDATE" and isinstance(order, dict) and order.get("x") == "TRADE":
            self.lost = (str(order["s"]), int(order["t"]))
            self.dropped += 1
            return None
        return text


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[SimProcess]:
    proc = SimProcess(tmp_path / "sim.log", speed=10.0, seed=21)
    yield proc
    proc.stop()


def _metric(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name) and not line.startswith("#"))


async def test_fill_lost_before_a_later_streamed_fill_is_journaled_at_clean_stop(
    sim: SimProcess, tmp_path: Path
) -> None:
    faults = DropFirstFill(path_part="/private/")
    proxy = WireProxy(sim.rest_url, sim.ws_url, faults=faults)
    await proxy.start()
    journal = tmp_path / "journal.sqlite3"
    engine = Instance(InstanceSpec("solo", proxy.rest_url, proxy.ws_url, None, journal,
                                   reconcile_interval_s=3600.0), tmp_path, free_port())
    client = sim.client()
    try:
        engine.start()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as session:
            await poll(lambda: get_json(session, f"{engine.ops_url}/readyz"), 30, "engine up")

            async def metric(name: str) -> float:
                async with session.get(f"{engine.ops_url}/metrics") as resp:
                    return _metric(await resp.text(), name)

            def start_up_passes_logged() -> bool:  # "start" and "user_stream_resync" (first connect), done
                reasons = set()
                for line in engine.log_text().splitlines():
                    if "reconcile_pass why=" in line:
                        reasons.update(line.split("why=", 1)[1].split(" ", 1)[0].split(","))
                return {"start", "user_stream_resync"} <= reasons

            await poll(start_up_passes_logged, 30, "the start-up reconcile passes")
            runs_at_arm = await metric("grinder_reconcile_runs_total")
            faults.armed = True

            def streamed_after_lost() -> bool:
                if faults.lost is None:
                    return False
                sym, lost_id = faults.lost
                return any(f["symbol"] == sym and int(f["trade_id"]) > lost_id for f in journal_fills(journal))

            await poll(streamed_after_lost, 90, f"a fill streamed after the dropped one ({engine.log_path})",
                       interval=0.05)
            runs = await metric("grinder_reconcile_runs_total")
            recovered = await metric("grinder_reconcile_fills_recovered_total")
        assert faults.lost is not None
        lost_key = (faults.lost[0], faults.lost[1])
        journaled = {(f["symbol"], int(f["trade_id"])) for f in journal_fills(journal)}
        assert lost_key not in journaled, "the dropped fill reached the journal before the stop"
        # No pass ran after the start-up ones, and none recovered a fill: what follows is shutdown's doing.
        assert (runs, recovered) == (runs_at_arm, 0)
        assert await asyncio.to_thread(engine.terminate) == 0
        fills = journal_fills(journal)
        keys = {(f["symbol"], int(f["trade_id"])) for f in fills}
        assert lost_key in keys, f"the fill lost on the wire {lost_key} is not in the journal after the stop"
        assert len(fills) == len(keys)
        assert keys == await sim_trades(client)
        assert "Traceback" not in engine.log_text()
    finally:
        await asyncio.to_thread(engine.terminate)
        await proxy.stop()
        await client.close()
