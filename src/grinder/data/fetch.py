"""Download Binance USDⓈ-M public-data archives (data.binance.vision) into a local cache.

Each archive is verified against its published `<name>.zip.CHECKSUM` (sha256) before it enters the
cache; an interrupted download stays as `<name>.zip.part` and the next run resumes it with an HTTP
Range request. The cache mirrors the server's path layout under the cache directory:

    <cache>/data/futures/um/daily/<kind>/<SYMBOL>/<SYMBOL>-<kind>-<YYYY-MM-DD>.zip
    <cache>/data/futures/um/monthly/<kind>/<SYMBOL>/<SYMBOL>-<kind>-<YYYY-MM>.zip
    <cache>/data/futures/um/{daily,monthly}/klines/<SYMBOL>/<interval>/<SYMBOL>-<interval>-<date>.zip

so a cached file and its source URL name each other. `grinder data convert` turns the archives
into Parquet the backtester loads (grinder.data.convert).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import aiohttp

from grinder.data.errors import DataError

DEFAULT_BASE_URL = "https://data.binance.vision"
MARKET_PREFIX = "data/futures/um"
KINDS = ("bookTicker", "trades", "aggTrades", "fundingRate", "klines")
MONTHLY_ONLY = frozenset({"fundingRate"})  # Binance publishes funding rates per month only
KLINE_INTERVALS = ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d")
_SYMBOL_RE = re.compile(r"^[A-Z0-9]{2,30}$")
_CHUNK = 1 << 16

ProgressFn = Callable[["Archive", int, int | None], None]  # (archive, bytes done, bytes total)


class FetchError(DataError):
    """A download GRINDER refuses to keep (checksum mismatch, truncated, missing on the server)."""


@dataclass(frozen=True, slots=True)
class Archive:
    """One published archive: its path below the base URL is also its path below the cache."""

    symbol: str
    kind: str
    period: str  # "daily" | "monthly"
    label: str  # YYYY-MM-DD or YYYY-MM
    interval: str = ""  # klines only

    @property
    def name(self) -> str:
        middle = self.interval if self.kind == "klines" else self.kind
        return f"{self.symbol}-{middle}-{self.label}.zip"

    @property
    def rel_path(self) -> str:
        parts = [MARKET_PREFIX, self.period, self.kind, self.symbol]
        if self.kind == "klines":
            parts.append(self.interval)
        return "/".join([*parts, self.name])


def parse_day(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise DataError(f"{what} {text!r} is not a date; write it as YYYY-MM-DD") from None


def _months(start: date, end: date) -> list[str]:
    out: list[str] = []
    y, m = start.year, start.month
    while (y, m) <= (end.year, end.month):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def plan_archives(
    symbols: Sequence[str],
    kinds: Sequence[str],
    start: date,
    end: date,
    *,
    monthly: bool = False,
    interval: str = "1m",
) -> list[Archive]:
    """Every archive for the symbols x kinds x dates (inclusive); validates all inputs first."""
    bad_syms = [s for s in symbols if not _SYMBOL_RE.match(s)]
    if bad_syms:
        raise DataError(f"symbol {bad_syms[0]!r} is not a USDⓈ-M symbol name such as BTCUSDT (upper case)")
    bad_kinds = [k for k in kinds if k not in KINDS]
    if bad_kinds:
        raise DataError(f"data kind {bad_kinds[0]!r} is unknown; choose from {', '.join(KINDS)}")
    if "klines" in kinds and interval not in KLINE_INTERVALS:
        raise DataError(f"kline interval {interval!r} is unknown; choose from {', '.join(KLINE_INTERVALS)}")
    if end < start:
        raise DataError(f"--end {end} is before --start {start}; give an inclusive range start <= end")
    days = [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]
    out: list[Archive] = []
    for sym in symbols:
        for kind in kinds:
            per_month = monthly or kind in MONTHLY_ONLY
            labels = _months(start, end) if per_month else days
            period = "monthly" if per_month else "daily"
            ivl = interval if kind == "klines" else ""
            out.extend(Archive(sym, kind, period, label, ivl) for label in labels)
    return out


def cache_path(cache: Path, archive: Archive) -> Path:
    return cache.joinpath(*archive.rel_path.split("/"))


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def parse_checksum(text: str, archive: Archive) -> str:
    """The sha256 from a `.CHECKSUM` file (`<hex>  <file name>`)."""
    fields = text.split()
    if not fields or not re.fullmatch(r"[0-9a-fA-F]{64}", fields[0]):
        raise FetchError(f"{archive.rel_path}.CHECKSUM is not a sha256 line: {text[:80]!r}")
    if len(fields) > 1 and fields[1] != archive.name:
        raise FetchError(f"{archive.rel_path}.CHECKSUM names {fields[1]!r}, not {archive.name!r}")
    return fields[0].lower()


@dataclass(frozen=True, slots=True)
class FetchResult:
    archive: Archive
    path: Path
    status: str  # "cached" | "downloaded" | "resumed"
    bytes_downloaded: int


class Fetcher:
    """Downloads archives into `cache`, at most `parallel` at a time, each checked against its CHECKSUM."""

    def __init__(
        self,
        cache: Path,
        *,
        base_url: str = DEFAULT_BASE_URL,
        parallel: int = 4,
        retries: int = 2,
        timeout_s: float = 60.0,
        progress: ProgressFn | None = None,
    ) -> None:
        if parallel < 1:
            raise DataError(f"--parallel {parallel}: give at least 1 concurrent download")
        if retries < 0:
            raise DataError(f"--retries {retries}: give 0 or more")
        self.cache = cache
        self.base_url = base_url.rstrip("/")
        self.parallel = parallel
        self.retries = retries
        self.timeout = aiohttp.ClientTimeout(total=None, sock_connect=timeout_s, sock_read=timeout_s)
        self.progress = progress

    def url(self, archive: Archive) -> str:
        return f"{self.base_url}/{archive.rel_path}"

    async def fetch_all(self, archives: Iterable[Archive]) -> list[FetchResult]:
        sem = asyncio.Semaphore(self.parallel)
        async with aiohttp.ClientSession(timeout=self.timeout, auto_decompress=False) as session:

            async def one(a: Archive) -> FetchResult:
                async with sem:
                    return await self.fetch(session, a)

            tasks = [asyncio.ensure_future(one(a)) for a in archives]
            try:
                return list(await asyncio.gather(*tasks))
            finally:
                for t in tasks:
                    t.cancel()

    async def _checksum(self, session: aiohttp.ClientSession, archive: Archive) -> str:
        url = self.url(archive) + ".CHECKSUM"
        async with session.get(url) as resp:
            if resp.status == 404:
                raise FetchError(
                    f"{url} is not published (404): Binance has no {archive.kind} archive for "
                    f"{archive.symbol} on {archive.label}; drop that date or kind"
                )
            if resp.status != 200:
                raise FetchError(f"{url}: HTTP {resp.status}; retry later or check --base-url")
            return parse_checksum(await resp.text(), archive)

    async def fetch(self, session: aiohttp.ClientSession, archive: Archive) -> FetchResult:
        """One archive into the cache: already verified -> kept; `.part` present -> resumed."""
        expected = await self._checksum(session, archive)
        final = cache_path(self.cache, archive)
        if final.exists() and sha256_file(final) == expected:
            return FetchResult(archive, final, "cached", 0)
        final.parent.mkdir(parents=True, exist_ok=True)
        part = final.with_name(final.name + ".part")
        resumed = part.exists() and part.stat().st_size > 0
        got = 0
        for attempt in range(self.retries + 1):
            try:
                got += await self._download(session, archive, part)
                break
            except FetchError:
                if attempt == self.retries:
                    raise
        actual = sha256_file(part)
        if actual != expected:
            part.unlink()  # a complete file with the wrong bytes: resuming it can never succeed
            raise FetchError(
                f"{self.url(archive)}: checksum mismatch (sha256 {actual[:16]}…, CHECKSUM says "
                f"{expected[:16]}…); the download was discarded, rerun to fetch it again"
            )
        part.replace(final)
        return FetchResult(archive, final, "resumed" if resumed else "downloaded", got)

    async def _download(self, session: aiohttp.ClientSession, archive: Archive, part: Path) -> int:
        """Append the rest of the archive to `part` (Range from its size); the bytes received."""
        url = self.url(archive)
        have = part.stat().st_size if part.exists() else 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        async with session.get(url, headers=headers) as resp:
            if resp.status == 416:  # nothing left past `have`: the part is already whole
                return 0
            if resp.status == 404:
                raise FetchError(f"{url} is not published (404); drop that date or kind")
            if resp.status not in (200, 206):
                raise FetchError(f"{url}: HTTP {resp.status}; retry later or check --base-url")
            if resp.status == 200:
                have = 0  # the server ignored the Range: start over
            total = None if resp.content_length is None else have + resp.content_length
            received = 0
            try:
                with part.open("ab" if have else "wb") as out:
                    async for block in resp.content.iter_chunked(_CHUNK):
                        out.write(block)
                        received += len(block)
                        if self.progress is not None:
                            self.progress(archive, have + received, total)
            except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, TimeoutError) as exc:
                raise FetchError(
                    f"{url}: truncated download ({have + received:,} of "
                    f"{'?' if total is None else f'{total:,}'} bytes: {type(exc).__name__}); "
                    "the partial file is kept, rerun to resume"
                ) from None
            if total is not None and have + received < total:
                raise FetchError(
                    f"{url}: truncated download ({have + received:,} of {total:,} bytes); "
                    "the partial file is kept, rerun to resume"
                )
        return received
