"""Journal: WAL mode, typed round trips, dedup, restart recovery, crash safety, no secrets."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from grinder.core.commands import AmendOrder, CancelOrder, CommandResult, Outcome, PlaceOrder
from grinder.core.enums import ExecutionType, OrderStatus, OrderType, PositionSide, Side, TimeInForce
from grinder.core.events import Fill, OrderUpdate
from grinder.execution import WorkingState
from grinder.store import Journal, JournalError, StoreConfig, Synchronous

SYM = "BTCUSDT"


def place(cid: str, level: str = "b1", price: int = 500_000, lots: int = 2) -> PlaceOrder:
    return PlaceOrder(SYM, Side.BUY, OrderType.LIMIT, lots, cid, price, TimeInForce.GTX, level=level)


def fill(cid: str, trade_id: int, lots: int = 1) -> Fill:
    return Fill(
        SYM,
        11,
        cid,
        trade_id,
        Side.BUY,
        PositionSide.BOTH,
        500_000,
        lots,
        True,
        Decimal("0.0100"),
        "USDT",
        Decimal("0"),
        123,
    )


def update(cid: str, status: OrderStatus, cum: int = 0, price: int = 500_000, qty: int = 2) -> OrderUpdate:
    return OrderUpdate(
        SYM,
        11,
        cid,
        Side.BUY,
        OrderType.LIMIT,
        TimeInForce.GTX,
        PositionSide.BOTH,
        False,
        price,
        qty,
        ExecutionType.TRADE if cum else ExecutionType.NEW,
        status,
        0,
        0,
        cum,
        Decimal(0),
        Decimal(0),
        "USDT",
        Decimal(0),
        True,
        0,
        1,
        1,
    )


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    j = Journal(tmp_path / "j.sqlite3")
    yield j  # type: ignore[misc]
    j.close()


def test_wal_and_synchronous_full(journal: Journal, tmp_path: Path) -> None:
    assert journal.pragma("journal_mode") == "wal"
    assert journal.pragma("synchronous") == 2  # FULL
    with Journal(tmp_path / "n.sqlite3", synchronous=Synchronous.NORMAL) as j:
        assert j.pragma("synchronous") == 1
    assert StoreConfig().synchronous is Synchronous.FULL


def test_commands_results_blocks_positions_round_trip(journal: Journal) -> None:
    p = place("grinder_g_BTCUSDT_b1_1_1")
    journal.append_command(p, 10)
    journal.append_result(
        CommandResult(
            p, Outcome.REJECTED, code=-5022, reason="Due to the order could not be executed as maker"
        ),
        11,
    )
    journal.append_block(CancelOrder(SYM, "grinder_g_BTCUSDT_b2_1_2"), "RATE_LIMIT", 12)
    journal.append_position(SYM, -3, 13, reason="FILL", entry_price=Decimal("50000.1"))
    [c] = journal.commands()
    assert (c.kind, c.side, c.price_ticks, c.qty_lots, c.time_in_force, c.level) == (
        "place",
        Side.BUY,
        500_000,
        2,
        "GTX",
        "b1",
    )
    [r] = journal.results()
    assert (r.outcome, r.code, r.seq) == (Outcome.REJECTED, -5022, 2)
    [b] = journal.blocks()
    assert (b.source, b.kind, b.reason) == ("risk", "cancel", "RATE_LIMIT")
    [pos] = journal.positions(SYM)
    assert (pos.amount_lots, pos.entry_price) == (-3, Decimal("50000.1"))


def test_fills_are_deduplicated_by_trade_and_order(journal: Journal) -> None:
    assert journal.append_fill(fill("c1", 5), 1)
    assert not journal.append_fill(fill("c1", 5), 2)
    assert journal.append_fill(fill("c1", 6), 3)
    assert [f.trade_id for f in journal.fills(SYM)] == [5, 6]
    assert journal.fills()[0] == fill("c1", 5)  # exact round trip, Decimal included
    assert journal.fill_keys() == {(SYM, 5, "c1"), (SYM, 6, "c1")}
    assert journal.has_fill(SYM, 6, "c1") and not journal.has_fill(SYM, 6, "c2")
    assert journal.last_trade_id(SYM) == 6 and journal.last_trade_id("ETHUSDT") is None


def test_bad_input_raises_with_context_and_writes_nothing(journal: Journal) -> None:
    with pytest.raises(JournalError, match="trade_id"):
        journal.append_fill(fill("c1", 0), 1)
    with pytest.raises(JournalError, match="qty_lots"):
        journal.append_command(place("c2", lots=0), 1)
    with pytest.raises(JournalError, match="PlaceOrder"):
        journal.append_command("not a command", 1)  # type: ignore[arg-type]
    with pytest.raises(JournalError, match="commission"):
        journal.append_fill(
            Fill(
                SYM, 1, "c", 1, Side.BUY, PositionSide.BOTH, 1, 1, True, Decimal("NaN"), "USDT", Decimal(0), 1
            ),
            1,
        )
    assert journal.fills() == [] and journal.commands() == []


def test_epochs_only_increase(journal: Journal) -> None:
    assert journal.last_epoch() is None and journal.next_epoch(100) == 100
    journal.append_epoch(100, 1)
    assert journal.next_epoch(90) == 101  # clock went backwards: still unique ids
    with pytest.raises(JournalError, match="could repeat"):
        journal.append_epoch(100, 2)
    journal.append_epoch(journal.next_epoch(90), 3)
    assert journal.last_epoch() == 101


def test_open_orders_replay(journal: Journal) -> None:
    a, b, c, d, e = (place(f"c{i}", level=f"b{i}") for i in range(1, 6))
    for cmd in (a, b, c, d, e):
        journal.append_command(cmd, 1)
    journal.append_result(CommandResult(a, Outcome.ACCEPTED, order_id=1, status=OrderStatus.NEW), 2)
    journal.append_result(CommandResult(b, Outcome.REJECTED, code=-5022), 2)  # gone
    journal.append_result(CommandResult(c, Outcome.UNKNOWN, reason="timeout"), 2)  # maybe open
    # d: no answer before the crash -> pending; e: filled
    journal.append_result(CommandResult(e, Outcome.ACCEPTED, order_id=5), 2)
    journal.append_order_update(update("c5", OrderStatus.FILLED, cum=2), 3)
    amend = AmendOrder(SYM, "c1", Side.BUY, 499_990, 3)
    journal.append_command(amend, 4)
    journal.append_result(CommandResult(amend, Outcome.ACCEPTED), 5)
    journal.append_order_update(update("c1", OrderStatus.PARTIALLY_FILLED, cum=1, price=499_990, qty=3), 6)
    orders = {o.client_order_id: o for o in journal.open_orders()}
    assert set(orders) == {"c1", "c3", "c4"}
    assert (
        orders["c1"].state,
        orders["c1"].price_ticks,
        orders["c1"].qty_lots,
        orders["c1"].filled_lots,
    ) == (WorkingState.OPEN, 499_990, 3, 1)
    assert orders["c3"].state is WorkingState.UNKNOWN and orders["c4"].state is WorkingState.PENDING_NEW
    assert orders["c4"].level == "b4" and orders["c4"].post_only
    cancel = CancelOrder(SYM, "c1")
    journal.append_command(cancel, 7)
    journal.append_result(CommandResult(cancel, Outcome.ACCEPTED, status=OrderStatus.CANCELED), 8)
    assert "c1" not in {o.client_order_id for o in journal.open_orders()}


def test_open_orders_replay_closes_on_start_up_resolution_and_keeps_a_reused_level(journal: Journal) -> None:
    a, b = place("c1", level="b1"), place("c2", level="b1")
    journal.append_command(a, 1)
    journal.append_result(CommandResult(a, Outcome.UNKNOWN, reason="timeout"), 2)
    # A later process reuses level b1 while c1's fate is still unknown: both are believed open.
    journal.append_command(b, 3)
    journal.append_result(CommandResult(b, Outcome.ACCEPTED, order_id=2, status=OrderStatus.NEW), 4)
    assert {o.client_order_id: o.state for o in journal.open_orders()} == {
        "c1": WorkingState.UNKNOWN, "c2": WorkingState.OPEN}
    # The start-up query found no c1 on the exchange: journaled as a rejected place (-2013).
    journal.append_result(CommandResult(a, Outcome.REJECTED, code=-2013, reason="not known"), 5)
    assert [o.client_order_id for o in journal.open_orders()] == ["c2"]


def test_batch_is_all_or_nothing(journal: Journal) -> None:
    def failing_batch() -> None:
        with journal.batch():
            journal.append_command(place("c1"), 1)
            journal.append_fill(fill("c1", -1), 1)

    with pytest.raises(JournalError):
        failing_batch()
    assert journal.commands() == []
    with journal.batch():
        journal.append_command(place("c1"), 1)
        journal.append_fill(fill("c1", 1), 1)
    assert len(journal.commands()) == 1 and len(journal.fills()) == 1


def test_reopen_continues_the_sequence(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite3") as j:
        j.append_command(place("c1"), 1)
    with Journal(tmp_path / "j.sqlite3") as j:
        j.append_fill(fill("c1", 1), 2)
        assert [c.seq for c in j.commands()] == [1]
        assert j.fills()[0].trade_id == 1


@pytest.mark.integration
def test_kill_9_loses_nothing_committed(tmp_path: Path) -> None:
    path = tmp_path / "crash.sqlite3"
    script = textwrap.dedent(
        f"""
        import os, signal
        from decimal import Decimal
        from grinder.core.enums import PositionSide, Side
        from grinder.core.events import Fill
        from grinder.store import Journal
        j = Journal({str(path)!r})
        for i in range(1, 201):
            j.append_fill(Fill("BTCUSDT", 1, "c", i, Side.BUY, PositionSide.BOTH, 5, 1, True, Decimal(0), "USDT",
                               Decimal(0), i), i)
        print("committed", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -9 and "committed" in proc.stdout
    with Journal(path) as j:
        assert [f.trade_id for f in j.fills()] == list(range(1, 201))


def test_no_secrets_in_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key, secret = "AKIAxTESTxKEYx1234567890", "s3cr3tVALUEthatMUSTnotLEAK"
    monkeypatch.setenv("BINANCE_API_KEY", key)
    monkeypatch.setenv("BINANCE_API_SECRET", secret)
    path = tmp_path / "s.sqlite3"
    with Journal(path) as j:
        p = place("c1")
        j.append_command(p, 1)
        j.append_result(
            CommandResult(p, Outcome.REJECTED, code=-2015, reason=f"Invalid API-key {key} sig {secret}"), 2
        )
        j.append_block(p, f"GATE api_key={key}", 3, source="gate")
        assert key not in j.results()[0].reason and secret not in j.results()[0].reason
    raw = b"".join(f.read_bytes() for f in tmp_path.iterdir())
    assert key.encode() not in raw and secret.encode() not in raw


def test_rows_cannot_be_changed_or_deleted(journal: Journal) -> None:
    import sqlite3

    journal.append_fill(fill("c1", 1), 1)
    db = sqlite3.connect(str(journal.path))
    try:
        for sql in ("UPDATE fills SET qty_lots = 99", "DELETE FROM fills"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                db.execute(sql)
    finally:
        db.close()
    assert journal.fills()[0].qty_lots == 1
