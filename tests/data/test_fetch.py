"""`grinder data fetch|convert` against a local server with data.binance.vision's layout (loopback only).

The server serves real zip archives and their `.CHECKSUM` files, honours HTTP Range, and can be told
to cut a response short or publish a wrong checksum.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from aiohttp import web

from grinder.cli import main
from grinder.data import load_tape
from grinder.data.fetch import Archive, cache_path, plan_archives

DAYS = ("2024-01-01", "2024-01-02")
STATE = web.AppKey("state", "PublicData")
T0 = 1_704_067_200_000


def book_csv(day: int, n: int = 3000) -> bytes:
    rng = np.random.default_rng(day)
    bid = 60000 + np.cumsum(rng.integers(-2, 3, n)) * 0.1
    t = T0 + day * 86_400_000 + np.arange(n) * 20
    lines = ["update_id,best_bid_price,best_bid_qty,best_ask_price,best_ask_qty,transaction_time,event_time"]
    lines += [
        f"{10**12 + i},{bid[i]:.1f},{rng.integers(1, 900) / 1000},{bid[i] + 0.1:.1f},0.5,{t[i]},{t[i] + 1}"
        for i in range(n)
    ]
    return ("\n".join(lines) + "\n").encode()


def agg_csv(day: int, n: int = 1000) -> bytes:
    rng = np.random.default_rng(100 + day)
    t = T0 + day * 86_400_000 + np.arange(n) * 55 + 7
    rows = [  # headerless, as older Binance files are
        f"{5 * 10**9 + i},{60000 + rng.integers(-20, 20) * 0.1:.1f},{rng.integers(1, 90) / 1000},1,1,{t[i]},"
        f"{'true' if i % 2 else 'false'}"
        for i in range(n)
    ]
    return ("\n".join(rows) + "\n").encode()


def zipped(name: str, body: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name.removesuffix(".zip") + ".csv", body)
    return buf.getvalue()


@dataclass
class PublicData:
    """What the fake data.binance.vision serves, and what it saw."""

    url: str = ""
    files: dict[str, bytes] = field(default_factory=dict)
    truncate: set[str] = field(default_factory=set)  # paths whose body is cut in half
    ranges: list[tuple[str, str]] = field(default_factory=list)  # (path, Range header) received

    def publish(self, archive: Archive, body: bytes, *, checksum: bytes | None = None) -> bytes:
        data = zipped(archive.name, body)
        self.files[archive.rel_path] = data
        digest = checksum or hashlib.sha256(data).hexdigest().encode()
        self.files[archive.rel_path + ".CHECKSUM"] = digest + b"  " + archive.name.encode() + b"\n"
        return data


async def _handler(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    path = request.path.lstrip("/")
    body = state.files.get(path)
    if body is None:
        raise web.HTTPNotFound()
    start = 0
    rng = request.headers.get("Range")
    if rng:
        state.ranges.append((path, rng))
        start = int(rng.removeprefix("bytes=").rstrip("-"))
        if start >= len(body):
            raise web.HTTPRequestRangeNotSatisfiable()
    resp = web.StreamResponse(status=206 if start else 200)
    rest = body[start:]
    resp.content_length = len(rest)
    await resp.prepare(request)
    if path in state.truncate:
        await resp.write(rest[: len(rest) // 2])
        assert request.transport is not None
        request.transport.close()  # the connection drops mid-body
        return resp
    await resp.write(rest)
    await resp.write_eof()
    return resp


@pytest.fixture
def public_data() -> Iterator[PublicData]:
    state = PublicData()
    loop = asyncio.new_event_loop()
    app = web.Application()
    app[STATE] = state
    app.router.add_get("/{tail:.*}", _handler)
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    state.url = f"http://127.0.0.1:{port}"
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield state
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def fetch_args(srv: PublicData, cache: Path, *extra: str) -> list[str]:
    return [
        "data", "fetch", "--symbols", "BTCUSDT", "--kinds", "bookTicker", "aggTrades",
        "--start", DAYS[0], "--end", DAYS[1], "--cache", str(cache), "--base-url", srv.url,
        "--retries", "0", "--quiet", *extra,
    ]  # fmt: skip


def publish_all(srv: PublicData) -> dict[Archive, bytes]:
    out = {}
    for a in plan_archives(["BTCUSDT"], ["bookTicker", "aggTrades"], *map(_day, DAYS)):
        day = DAYS.index(a.label)
        out[a] = srv.publish(a, book_csv(day) if a.kind == "bookTicker" else agg_csv(day))
    return out


def _day(s: str) -> date:
    return date.fromisoformat(s)


def test_fetch_verifies_resumes_and_converts_to_parquet_the_backtester_loads(
    public_data: PublicData, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    published = publish_all(public_data)
    cache = tmp_path / "cache"
    # an interrupted earlier run left the first half of one archive behind
    first = next(a for a in published if a.kind == "bookTicker")
    part = cache_path(cache, first).with_name(first.name + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(published[first][: len(published[first]) // 2])

    out = tmp_path / "parquet"
    assert main([*fetch_args(public_data, cache), "--convert", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.count("resumed:") == 1 and printed.count("downloaded:") == 3
    assert public_data.ranges == [(first.rel_path, f"bytes={len(published[first]) // 2}-")]
    for a, data in published.items():  # the documented layout, byte for byte
        assert (cache / a.rel_path).read_bytes() == data
    assert not list(cache.rglob("*.part"))

    # a second run finds everything verified in the cache and downloads nothing
    assert main(fetch_args(public_data, cache)) == 0
    assert capsys.readouterr().out.count("cached:") == 4

    # the Parquet tape equals the tape read straight from the zipped CSVs
    assert sorted(p.name for p in out.iterdir()) == sorted(
        a.name.replace(".zip", ".parquet") for a in published
    )
    from_parquet = load_tape([out])
    from_zip = load_tape(sorted(cache.rglob("*.zip")))
    assert len(from_parquet) == 2 * (3000 + 1000)
    for col in ("time_ms", "kind", "a", "b", "qa", "qb", "ident", "event_ms"):
        assert np.array_equal(getattr(from_parquet, col), getattr(from_zip, col)), col


def test_checksum_mismatch_is_refused_with_one_line_and_exit_2(
    public_data: PublicData, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    publish_all(public_data)
    bad = plan_archives(["BTCUSDT"], ["aggTrades"], _day(DAYS[1]), _day(DAYS[1]))[0]
    public_data.publish(bad, agg_csv(1), checksum=b"0" * 64)
    cache = tmp_path / "cache"
    assert main(fetch_args(public_data, cache)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "checksum mismatch" in err[0], err
    assert bad.name in err[0] and "Traceback" not in err[0]
    assert not cache_path(cache, bad).exists()  # nothing unverified enters the cache
    assert not cache_path(cache, bad).with_name(bad.name + ".part").exists()


def test_truncated_download_is_refused_and_resumed_on_the_next_run(
    public_data: PublicData, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    published = publish_all(public_data)
    cut = next(a for a in published if a.kind == "aggTrades")
    public_data.truncate.add(cut.rel_path)
    cache = tmp_path / "cache"
    assert main(fetch_args(public_data, cache)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "truncated download" in err[0] and cut.name in err[0], err
    assert not cache_path(cache, cut).exists()
    part = cache_path(cache, cut).with_name(cut.name + ".part")
    assert 0 < part.stat().st_size < len(published[cut])

    kept = part.stat().st_size
    public_data.truncate.clear()  # the network recovers: the rerun asks only for the rest
    assert main(fetch_args(public_data, cache)) == 0
    assert public_data.ranges == [(cut.rel_path, f"bytes={kept}-")]
    assert cache_path(cache, cut).read_bytes() == published[cut]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--symbols", "btc-usdt"], "is not a USDⓈ-M symbol"),
        (["--kinds", "depth"], "data kind 'depth' is unknown"),
        (["--start", "2024-13-01"], "is not a date"),
        (["--end", "2023-12-01"], "is before --start"),
    ],
)
def test_bad_fetch_arguments_fail_before_any_download(
    public_data: PublicData, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    base = {"--symbols": ["BTCUSDT"], "--kinds": ["bookTicker"], "--start": [DAYS[0]], "--end": [DAYS[0]]}
    base[args[0]] = args[1:]
    argv = ["data", "fetch", "--cache", str(tmp_path), "--base-url", public_data.url, "--quiet"]
    for k, v in base.items():
        argv += [k, *v]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert public_data.ranges == [] and not list(tmp_path.rglob("*.zip*"))
