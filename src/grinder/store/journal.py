"""`Journal`: an append-only SQLite (WAL) record of every command, answer, fill, position and block.

Each append is one committed transaction (or part of an explicit `batch()`), so a process killed
with SIGKILL loses nothing that was committed; with `synchronous=FULL` a power cut loses nothing
either (ADR-048). Rows are typed; every row carries a journal-wide sequence number so restart
recovery can replay them in the order they happened. Bad input raises `JournalError` naming the
field; every text column passes through the log redactor, so no secret reaches a row.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar, cast

from grinder.core.commands import AmendOrder, CancelOrder, Command, CommandResult, Outcome, PlaceOrder
from grinder.core.enums import OrderStatus, OrderType, PositionSide, Side, TimeInForce
from grinder.core.events import Fill, OrderUpdate
from grinder.execution.order_manager import WorkingOrder
from grinder.execution.replay import OrderReplay
from grinder.ops.logging import redactor
from grinder.store.config import Synchronous

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS epochs (
    seq INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL, epoch_s INTEGER NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS commands (
    seq INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL, kind TEXT NOT NULL, symbol TEXT NOT NULL,
    client_order_id TEXT NOT NULL, side TEXT, order_type TEXT, price_ticks INTEGER, qty_lots INTEGER,
    time_in_force TEXT, reduce_only INTEGER NOT NULL DEFAULT 0, level TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS commands_cid ON commands (client_order_id);
CREATE TABLE IF NOT EXISTS results (
    seq INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL, kind TEXT NOT NULL, symbol TEXT NOT NULL,
    client_order_id TEXT NOT NULL, outcome TEXT NOT NULL, order_id INTEGER, status TEXT, code INTEGER,
    reason TEXT NOT NULL, price_ticks INTEGER, qty_lots INTEGER
);
CREATE TABLE IF NOT EXISTS order_updates (
    seq INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL, symbol TEXT NOT NULL, client_order_id TEXT NOT NULL,
    order_id INTEGER NOT NULL, side TEXT NOT NULL, execution_type TEXT NOT NULL, status TEXT NOT NULL,
    price_ticks INTEGER NOT NULL, orig_qty_lots INTEGER NOT NULL, cum_filled_lots INTEGER NOT NULL,
    event_time_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS fills (
    seq INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL, symbol TEXT NOT NULL, client_order_id TEXT NOT NULL,
    order_id INTEGER NOT NULL, trade_id INTEGER NOT NULL, side TEXT NOT NULL, position_side TEXT NOT NULL,
    price_ticks INTEGER NOT NULL, qty_lots INTEGER NOT NULL, is_maker INTEGER NOT NULL,
    commission TEXT NOT NULL, commission_asset TEXT NOT NULL, realized_pnl TEXT NOT NULL,
    fill_time_ms INTEGER NOT NULL,
    UNIQUE (symbol, trade_id, client_order_id)
);
CREATE TABLE IF NOT EXISTS positions (
    seq INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL, symbol TEXT NOT NULL, position_side TEXT NOT NULL,
    amount_lots INTEGER NOT NULL, entry_price TEXT, reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS blocks (
    seq INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL, source TEXT NOT NULL, kind TEXT NOT NULL,
    symbol TEXT NOT NULL, client_order_id TEXT NOT NULL, reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS risk_state (
    seq INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL, latched INTEGER NOT NULL, reason TEXT,
    high_water TEXT, utc_day INTEGER, day_start_equity TEXT, note TEXT NOT NULL
);
"""
_TABLES = ("epochs", "commands", "results", "order_updates", "fills", "positions", "blocks", "risk_state")


def _append_only_triggers() -> str:
    """Triggers that make UPDATE and DELETE fail: the journal is append-only at the database level."""
    return "".join(
        f"CREATE TRIGGER IF NOT EXISTS {t}_no_{op} BEFORE {op.upper()} ON {t} "
        f"BEGIN SELECT RAISE(ABORT, 'the GRINDER journal is append-only'); END;\n"
        for t in _TABLES
        for op in ("update", "delete")
    )


class JournalError(ValueError):
    """A row could not be journaled: what was refused and why (nothing is half-written)."""


@dataclass(frozen=True, slots=True)
class JournalCommand:
    seq: int
    time_ms: int
    kind: str  # "place" | "cancel" | "amend"
    symbol: str
    client_order_id: str
    side: Side | None
    order_type: str | None
    price_ticks: int | None
    qty_lots: int | None
    time_in_force: str | None
    reduce_only: bool
    level: str


@dataclass(frozen=True, slots=True)
class JournalResult:
    seq: int
    time_ms: int
    kind: str
    symbol: str
    client_order_id: str
    outcome: Outcome
    order_id: int | None
    status: OrderStatus | None
    code: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class JournalPosition:
    seq: int
    time_ms: int
    symbol: str
    position_side: PositionSide
    amount_lots: int
    entry_price: Decimal | None
    reason: str


@dataclass(frozen=True, slots=True)
class JournalBlock:
    seq: int
    time_ms: int
    source: str  # "risk" | "gate"
    kind: str
    symbol: str
    client_order_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class JournalRiskState:
    """The loss-limit latch and its references as last journaled (restored at start, ADR-102)."""

    time_ms: int
    latched: bool
    reason: str | None
    high_water: Decimal | None
    utc_day: int | None
    day_start_equity: Decimal | None
    note: str


# How a stored column becomes the record field of the same name (as stored when absent; NULL stays None).
_DECODE: dict[str, Callable[[Any], Any]] = {
    "side": Side,
    "outcome": Outcome,
    "status": OrderStatus,
    "position_side": PositionSide,
    "reduce_only": bool,
    "latched": bool,
    "entry_price": Decimal,
    "high_water": Decimal,
    "day_start_equity": Decimal,
}


R = TypeVar("R")


def _record(cls: type[R], row: dict[str, Any]) -> R:
    """A journal record from its row: every field from the column of its name, decoded by `_DECODE`."""
    values = []
    for f in fields(cast(Any, cls)):
        v = row[f.name]
        decode = _DECODE.get(f.name)
        values.append(v if v is None or decode is None else decode(v))
    return cls(*values)


def _kind(cmd: object) -> str:
    if isinstance(cmd, PlaceOrder):
        return "place"
    if isinstance(cmd, CancelOrder):
        return "cancel"
    if isinstance(cmd, AmendOrder):
        return "amend"
    raise JournalError(f"expected a PlaceOrder, CancelOrder or AmendOrder, got {type(cmd).__name__}")


def _int(value: object, what: str, *, positive: bool = False, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise JournalError(f"{what} must be an integer, got {value!r}")
    if positive and value <= 0:
        raise JournalError(f"{what} must be > 0, got {value}")
    return value


def _dec(value: object, what: str) -> str:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise JournalError(f"{what} must be a finite Decimal, got {value!r}")
    return str(value)


def _text(value: object, what: str, *, required: bool = True) -> str:
    """A text column's value; `_insert` redacts every text column of the row (one secrets read)."""
    if not isinstance(value, str) or (required and not value):
        raise JournalError(f"{what} must be a non-empty string, got {value!r}")
    return value


@functools.lru_cache(maxsize=256)
def _insert_sql(table: str, columns: tuple[str, ...], unique_on: str) -> str:
    """The INSERT statement for one row shape (built once: appends sit on the tick-to-order path)."""
    cols = ", ".join(["seq", *columns])
    marks = ", ".join("?" for _ in range(len(columns) + 1))
    tail = f" ON CONFLICT ({unique_on}) DO NOTHING" if unique_on else ""
    return f"INSERT INTO {table} ({cols}) VALUES ({marks}){tail}"  # noqa: S608 - table/column names are ours


# Columns that carry text from `_text`: redacted on insert.
_TEXT_COLUMNS = frozenset({"symbol", "client_order_id", "level", "reason", "commission_asset", "note"})


class Journal:
    """One SQLite file in WAL mode. Methods are thread-safe; each append commits before returning."""

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: Synchronous = Synchronous.FULL,
        busy_timeout_ms: int = 5_000,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise JournalError(f"{self.path}: SQLite refused WAL mode (got {mode}); use a local filesystem")
        self._db.execute(f"PRAGMA synchronous = {Synchronous(synchronous).value}")
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if version not in (0, SCHEMA_VERSION):
            raise JournalError(
                f"{self.path}: journal schema {version} is newer than this GRINDER ({SCHEMA_VERSION})"
            )
        self._db.executescript(_SCHEMA + _append_only_triggers())
        self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        self._seq = max(
            int(self._db.execute(f"SELECT COALESCE(MAX(seq), 0) FROM {t}").fetchone()[0])  # noqa: S608
            for t in _TABLES
        )
        self._batch_depth = 0
        self._batch_redact: Callable[[str], str] | None = None

    # ----------------------------------------------------------------- plumbing
    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def pragma(self, name: str) -> Any:
        if not name.isidentifier():
            raise JournalError(f"pragma name {name!r} is not an identifier")
        with self._lock:
            return self._db.execute(f"PRAGMA {name}").fetchone()[0]

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group several appends into one transaction (one fsync); all or nothing."""
        with self._lock:
            outer = self._batch_depth == 0
            if outer:
                self._db.execute("BEGIN IMMEDIATE")
                self._batch_redact = redactor()  # the secrets read once for the whole batch
            self._batch_depth += 1
            try:
                yield
            except BaseException:
                self._batch_depth -= 1
                if outer:
                    self._batch_redact = None
                    self._db.execute("ROLLBACK")
                    self._seq = self._max_seq()
                raise
            self._batch_depth -= 1
            if outer:
                self._batch_redact = None
                self._db.execute("COMMIT")

    def _max_seq(self) -> int:
        return max(
            int(self._db.execute(f"SELECT COALESCE(MAX(seq), 0) FROM {t}").fetchone()[0])  # noqa: S608
            for t in _TABLES
        )

    def _insert(self, table: str, row: dict[str, Any], *, unique_on: str = "") -> bool:
        """Insert one row; with `unique_on`, a duplicate of that unique key is skipped (returns False).

        Only that uniqueness conflict is skipped (`ON CONFLICT (...) DO NOTHING`); any other
        constraint failure raises, so no row is ever dropped silently.
        """
        with self._lock:
            clean = self._batch_redact or redactor()
            for col, value in row.items():
                if col in _TEXT_COLUMNS and isinstance(value, str):
                    row[col] = clean(value)
            seq = self._seq + 1
            try:
                cur = self._db.execute(_insert_sql(table, tuple(row), unique_on), (seq, *row.values()))
            except sqlite3.Error as exc:
                raise JournalError(
                    f"journal {self.path}: cannot append to {table} "
                    f"(client_order_id={row.get('client_order_id', '-')}): {exc}"
                ) from exc
            if cur.rowcount == 1:
                self._seq = seq
                return True
            return False

    # ----------------------------------------------------------------- appends
    def append_epoch(self, epoch_s: int, time_ms: int) -> None:
        """Record the client-id epoch this process uses; refuses one not above every earlier epoch."""
        _int(epoch_s, "epoch_s", positive=True)
        last = self.last_epoch()
        if last is not None and epoch_s <= last:
            raise JournalError(
                f"epoch {epoch_s} is not above the last journaled epoch {last}: client order ids "
                "could repeat; use Journal.next_epoch(now_s)"
            )
        self._insert("epochs", {"time_ms": _int(time_ms, "time_ms"), "epoch_s": epoch_s})

    def append_command(self, cmd: Command, time_ms: int) -> None:
        kind = _kind(cmd)
        row: dict[str, Any] = {
            "time_ms": _int(time_ms, "time_ms"),
            "kind": kind,
            "symbol": _text(cmd.symbol, "symbol"),
            "client_order_id": _text(cmd.client_order_id, "client_order_id"),
        }
        if isinstance(cmd, PlaceOrder):
            row.update(
                side=cmd.side.value,
                order_type=cmd.order_type.value,
                price_ticks=_int(cmd.price_ticks, "price_ticks", positive=True, optional=True),
                qty_lots=_int(cmd.qty_lots, "qty_lots", positive=True),
                time_in_force=None if cmd.time_in_force is None else cmd.time_in_force.value,
                reduce_only=int(cmd.reduce_only),
                level=_text(cmd.level, "level", required=False),
            )
        elif isinstance(cmd, AmendOrder):
            row.update(
                side=cmd.side.value,
                price_ticks=_int(cmd.price_ticks, "price_ticks", positive=True),
                qty_lots=_int(cmd.qty_lots, "qty_lots", positive=True),
            )
        self._insert("commands", row)

    def append_result(self, res: CommandResult, time_ms: int) -> None:
        if not isinstance(res, CommandResult):
            raise JournalError(f"append_result expects a CommandResult, got {type(res).__name__}")
        cmd = res.command
        row = {
            "time_ms": _int(time_ms, "time_ms"),
            "kind": _kind(cmd),
            "symbol": _text(cmd.symbol, "symbol"),
            "client_order_id": _text(cmd.client_order_id, "client_order_id"),
            "outcome": Outcome(res.outcome).value,
            "order_id": _int(res.order_id, "order_id", optional=True),
            "status": None if res.status is None else OrderStatus(res.status).value,
            "code": _int(res.code, "code", optional=True),
            "reason": _text(res.reason, "reason", required=False),
            "price_ticks": cmd.price_ticks if isinstance(cmd, PlaceOrder | AmendOrder) else None,
            "qty_lots": cmd.qty_lots if isinstance(cmd, PlaceOrder | AmendOrder) else None,
        }
        self._insert("results", row)

    def append_order_update(self, ev: OrderUpdate, time_ms: int) -> None:
        if not isinstance(ev, OrderUpdate):
            raise JournalError(f"append_order_update expects an OrderUpdate, got {type(ev).__name__}")
        self._insert(
            "order_updates",
            {
                "time_ms": _int(time_ms, "time_ms"),
                "symbol": _text(ev.symbol, "symbol"),
                "client_order_id": _text(ev.client_order_id, "client_order_id"),
                "order_id": _int(ev.order_id, "order_id"),
                "side": ev.side.value,
                "execution_type": ev.execution_type.value,
                "status": ev.status.value,
                "price_ticks": _int(ev.price_ticks, "price_ticks"),
                "orig_qty_lots": _int(ev.orig_qty_lots, "orig_qty_lots"),
                "cum_filled_lots": _int(ev.cum_filled_lots, "cum_filled_lots"),
                "event_time_ms": _int(ev.event_time_ms, "event_time_ms"),
            },
        )

    def append_fill(self, fill: Fill, time_ms: int) -> bool:
        """Journal a fill; False (and no new row) when this trade of this order is already journaled."""
        if not isinstance(fill, Fill):
            raise JournalError(f"append_fill expects a Fill, got {type(fill).__name__}")
        return self._insert(
            "fills",
            {
                "time_ms": _int(time_ms, "time_ms"),
                "symbol": _text(fill.symbol, "symbol"),
                "client_order_id": _text(fill.client_order_id, "client_order_id"),
                "order_id": _int(fill.order_id, "order_id"),
                "trade_id": _int(
                    fill.trade_id, f"trade_id of fill for {fill.client_order_id}", positive=True
                ),
                "side": Side(fill.side).value,
                "position_side": PositionSide(fill.position_side).value,
                "price_ticks": _int(fill.price_ticks, "price_ticks", positive=True),
                "qty_lots": _int(fill.qty_lots, "qty_lots", positive=True),
                "is_maker": int(bool(fill.is_maker)),
                "commission": _dec(fill.commission, "commission"),
                "commission_asset": _text(fill.commission_asset, "commission_asset", required=False),
                "realized_pnl": _dec(fill.realized_pnl, "realized_pnl"),
                "fill_time_ms": _int(fill.time_ms, "fill time_ms"),
            },
            unique_on="symbol, trade_id, client_order_id",
        )

    def append_position(
        self,
        symbol: str,
        amount_lots: int,
        time_ms: int,
        *,
        reason: str,
        entry_price: Decimal | None = None,
        position_side: PositionSide = PositionSide.BOTH,
    ) -> None:
        """A position change (signed lots), e.g. reason "FILL", "ACCOUNT_UPDATE:ORDER", "RECONCILE"."""
        self._insert(
            "positions",
            {
                "time_ms": _int(time_ms, "time_ms"),
                "symbol": _text(symbol, "symbol"),
                "position_side": PositionSide(position_side).value,
                "amount_lots": _int(amount_lots, "amount_lots"),
                "entry_price": None if entry_price is None else _dec(entry_price, "entry_price"),
                "reason": _text(reason, "reason"),
            },
        )

    def append_block(self, cmd: Command, reason: str, time_ms: int, *, source: str = "risk") -> None:
        """A command refused by our own risk guard ("risk") or a connector gate ("gate")."""
        if source not in ("risk", "gate"):
            raise JournalError(f"block source must be 'risk' or 'gate', got {source!r}")
        self._insert(
            "blocks",
            {
                "time_ms": _int(time_ms, "time_ms"),
                "source": source,
                "kind": _kind(cmd),
                "symbol": _text(cmd.symbol, "symbol"),
                "client_order_id": _text(cmd.client_order_id, "client_order_id"),
                "reason": _text(reason, "reason"),
            },
        )

    # ----------------------------------------------------------------- readers
    def append_risk_state(self, state: JournalRiskState) -> None:
        """Journal the risk latch, high-water mark, UTC day and its start equity (one row per change)."""

        def dec(v: Decimal | None, what: str) -> str | None:
            return None if v is None else _dec(v, what)

        self._insert(
            "risk_state",
            {
                "time_ms": _int(state.time_ms, "time_ms"),
                "latched": int(bool(state.latched)),
                "reason": state.reason,
                "high_water": dec(state.high_water, "high_water"),
                "utc_day": _int(state.utc_day, "utc_day", optional=True),
                "day_start_equity": dec(state.day_start_equity, "day_start_equity"),
                "note": _text(state.note, "note", required=False),
            },
        )

    def last_risk_state(self) -> JournalRiskState | None:
        rows = self._rows("SELECT * FROM risk_state ORDER BY seq DESC LIMIT 1")
        if not rows:
            return None
        return _record(JournalRiskState, rows[0])

    def _rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        with self._lock:
            cur = self._db.execute(sql, args)
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]

    def _in_order(self, table: str, symbol: str | None = None) -> list[dict[str, Any]]:
        """Every row of `table` (one of ours) in journal order; only `symbol`'s when given."""
        if symbol is None:
            return self._rows(f"SELECT * FROM {table} ORDER BY seq")  # noqa: S608 - table names are ours
        return self._rows(f"SELECT * FROM {table} WHERE symbol = ? ORDER BY seq", (symbol,))  # noqa: S608

    def _int_or_none(self, sql: str, args: tuple[Any, ...] = ()) -> int | None:
        """The one value `sql` selects, as an int; None when it is NULL (no row matched)."""
        with self._lock:
            value = self._db.execute(sql, args).fetchone()[0]
        return None if value is None else int(value)

    def _exists(self, sql: str, args: tuple[Any, ...]) -> bool:
        with self._lock:
            return self._db.execute(sql, args).fetchone() is not None

    def last_epoch(self) -> int | None:
        return self._int_or_none("SELECT MAX(epoch_s) FROM epochs")

    def next_epoch(self, now_s: int) -> int:
        """An epoch for a new process: now, or one above the last journaled epoch if the clock is behind."""
        last = self.last_epoch()
        return now_s if last is None or now_s > last else last + 1

    def commands(self) -> list[JournalCommand]:
        return [_record(JournalCommand, r) for r in self._in_order("commands")]

    def results(self) -> list[JournalResult]:
        return [_record(JournalResult, r) for r in self._in_order("results")]

    def positions(self, symbol: str | None = None) -> list[JournalPosition]:
        return [_record(JournalPosition, r) for r in self._in_order("positions", symbol)]

    def blocks(self) -> list[JournalBlock]:
        return [_record(JournalBlock, r) for r in self._in_order("blocks")]

    def fills(self, symbol: str | None = None) -> list[Fill]:
        """Every journaled fill in journal order, as core `Fill` values."""
        return [
            Fill(
                symbol=r["symbol"],
                order_id=r["order_id"],
                client_order_id=r["client_order_id"],
                trade_id=r["trade_id"],
                side=Side(r["side"]),
                position_side=PositionSide(r["position_side"]),
                price_ticks=r["price_ticks"],
                qty_lots=r["qty_lots"],
                is_maker=bool(r["is_maker"]),
                commission=Decimal(r["commission"]),
                commission_asset=r["commission_asset"],
                realized_pnl=Decimal(r["realized_pnl"]),
                time_ms=r["fill_time_ms"],
            )
            for r in self._in_order("fills", symbol)
        ]

    def fill_keys(self) -> set[tuple[str, int, str]]:
        """(symbol, trade_id, client_order_id) of every journaled fill: seed fill de-duplication."""
        return {
            (r["symbol"], r["trade_id"], r["client_order_id"])
            for r in self._rows("SELECT symbol, trade_id, client_order_id FROM fills")
        }

    def has_fill(self, symbol: str, trade_id: int, client_order_id: str) -> bool:
        """True when this trade of this order is journaled (an indexed lookup)."""
        return self._exists(
            "SELECT 1 FROM fills WHERE symbol = ? AND trade_id = ? AND client_order_id = ?",
            (symbol, trade_id, client_order_id),
        )

    def last_trade_id(self, symbol: str) -> int | None:
        """Highest journaled trade id of `symbol`: where missed-fill recovery resumes (ADR-101)."""
        return self._int_or_none("SELECT MAX(trade_id) FROM fills WHERE symbol = ?", (symbol,))

    def has_trade(self, symbol: str, trade_id: int) -> bool:
        """True when any fill of this trade id of `symbol` is journaled (recovery de-duplication)."""
        sql = "SELECT 1 FROM fills WHERE symbol = ? AND trade_id = ? LIMIT 1"
        return self._exists(sql, (symbol, trade_id))

    def first_command_ms(self, symbol: str) -> int | None:
        """Journal time of the first command for `symbol` (recovery's start when no fill is journaled)."""
        return self._int_or_none("SELECT MIN(time_ms) FROM commands WHERE symbol = ?", (symbol,))

    def open_orders(self) -> list[WorkingOrder]:
        """Orders the journal believes may still be open: its commands, answers and order updates
        replayed in journal order through the order manager (`grinder.execution.replay`)."""
        replay = OrderReplay()
        sql = (
            "SELECT seq, 'c' AS src, kind, client_order_id, symbol, side, order_type, price_ticks, qty_lots, "
            "time_in_force, reduce_only, level, NULL AS outcome, NULL AS status, NULL AS code, "
            "NULL AS order_id, NULL AS cum FROM commands "
            "UNION ALL SELECT seq, 'r', kind, client_order_id, symbol, NULL, NULL, price_ticks, qty_lots, "
            "NULL, NULL, NULL, outcome, status, code, order_id, NULL FROM results "
            "UNION ALL SELECT seq, 'u', execution_type, client_order_id, symbol, side, NULL, price_ticks, "
            "orig_qty_lots, NULL, NULL, NULL, NULL, status, NULL, order_id, cum_filled_lots "
            "FROM order_updates "
            "ORDER BY seq"
        )
        for r in self._rows(sql):
            status = None if r["status"] is None else OrderStatus(r["status"])
            if r["src"] == "c":
                replay.command(_command_of(r))
            elif r["src"] == "r":
                replay.result(r["kind"], r["client_order_id"], Outcome(r["outcome"]), status=status,
                              code=r["code"], order_id=r["order_id"], price_ticks=r["price_ticks"],
                              qty_lots=r["qty_lots"])
            elif status is not None:
                replay.update(r["client_order_id"], status, order_id=r["order_id"],
                              price_ticks=r["price_ticks"], qty_lots=r["qty_lots"], filled_lots=r["cum"])
        return replay.open_orders()


def _command_of(r: dict[str, Any]) -> Command:
    """A journaled command row as the command it records."""
    if r["kind"] == "cancel":
        return CancelOrder(symbol=r["symbol"], client_order_id=r["client_order_id"])
    if r["kind"] == "amend":
        return AmendOrder(symbol=r["symbol"], client_order_id=r["client_order_id"], side=Side(r["side"]),
                          price_ticks=r["price_ticks"], qty_lots=r["qty_lots"])
    tif = r["time_in_force"]
    return PlaceOrder(symbol=r["symbol"], side=Side(r["side"]), order_type=OrderType(r["order_type"]),
                      qty_lots=r["qty_lots"], client_order_id=r["client_order_id"],
                      price_ticks=r["price_ticks"], time_in_force=None if tif is None else TimeInForce(tif),
                      reduce_only=bool(r["reduce_only"]), level=r["level"])
