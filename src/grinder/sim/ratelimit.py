"""REQUEST_WEIGHT (per IP, per minute) and ORDERS (per account, 10 s and 1 min) limits with 418 bans.

Fixed windows aligned to the clock, as Binance counts them. An IP that keeps sending after 429s
(`ban_after` refusals inside one minute) is banned: 2 min, doubling per repeat, at most 3 days.
The clock is injected, so tests move time instead of waiting.
"""

from __future__ import annotations

from dataclasses import dataclass

from grinder.sim.errors import banned, too_many_orders, too_many_requests

_MINUTE_MS = 60_000
_TEN_S_MS = 10_000
_MAX_BAN_MS = 3 * 86_400_000


@dataclass(frozen=True, slots=True)
class RateLimitSpec:
    """The limits exchangeInfo publishes (REQUEST_WEIGHT per minute, ORDERS per 10 s and per
    minute) and the ban policy: refusals inside one minute before a 418, the first ban's length."""

    weight_1m: int
    orders_10s: int
    orders_1m: int
    ban_after: int
    ban_initial_ms: int


@dataclass(slots=True)
class _IpState:
    window: int = -1
    used: int = 0
    refusals_window: int = -1
    refusals: int = 0
    banned_until_ms: int = 0
    next_ban_ms: int = 0


class RateLimiter:
    """Counts weight and orders; raises the Binance `ApiError` when a request must be refused."""

    def __init__(self, spec: RateLimitSpec) -> None:
        self.spec = spec
        self.weight_limit = spec.weight_1m
        self.orders_10s = spec.orders_10s
        self.orders_1m = spec.orders_1m
        self._ips: dict[str, _IpState] = {}
        self._orders_10s_window = -1
        self._orders_10s_count = 0
        self._orders_1m_window = -1
        self._orders_1m_count = 0

    def _ip(self, ip: str, now_ms: int) -> _IpState:
        st = self._ips.get(ip)
        if st is None:
            st = self._ips[ip] = _IpState(next_ban_ms=self.spec.ban_initial_ms)
        window = now_ms // _MINUTE_MS
        if st.window != window:
            st.window, st.used = window, 0
        return st

    def used_weight(self, ip: str, now_ms: int) -> int:
        return self._ip(ip, now_ms).used

    def check_ban(self, ip: str, now_ms: int) -> None:
        st = self._ip(ip, now_ms)
        if st.banned_until_ms > now_ms:
            raise banned(ip, st.banned_until_ms, now_ms)

    def charge(self, ip: str, weight: int, now_ms: int) -> int:
        """Add `weight` for this IP; returns the minute's used weight or raises 429/418."""
        st = self._ip(ip, now_ms)
        self.check_ban(ip, now_ms)
        if st.used + weight > self.weight_limit:
            self.refuse(ip, now_ms)
            raise too_many_requests(ip, self.weight_limit, _seconds_to_next(now_ms, _MINUTE_MS))
        st.used += weight
        return st.used

    def refuse(self, ip: str, now_ms: int) -> None:
        """Record a 429 for this IP; enough of them inside a minute turns into a ban."""
        st = self._ip(ip, now_ms)
        window = now_ms // _MINUTE_MS
        if st.refusals_window != window:
            st.refusals_window, st.refusals = window, 0
        st.refusals += 1
        if st.refusals >= self.spec.ban_after:
            st.banned_until_ms = now_ms + st.next_ban_ms
            st.next_ban_ms = min(st.next_ban_ms * 2, _MAX_BAN_MS)
            st.refusals = 0

    def order_counts(self, now_ms: int) -> tuple[int, int]:
        if self._orders_10s_window != now_ms // _TEN_S_MS:
            self._orders_10s_window, self._orders_10s_count = now_ms // _TEN_S_MS, 0
        if self._orders_1m_window != now_ms // _MINUTE_MS:
            self._orders_1m_window, self._orders_1m_count = now_ms // _MINUTE_MS, 0
        return self._orders_10s_count, self._orders_1m_count

    def charge_orders(self, ip: str, count_10s: int, count_1m: int, now_ms: int) -> tuple[int, int]:
        """Count order placements; raises -1015 (429) when either ORDERS window would overflow."""
        c10, c1m = self.order_counts(now_ms)
        if c10 + count_10s > self.orders_10s:
            self.refuse(ip, now_ms)
            raise too_many_orders(self.orders_10s, "10 SECOND", _seconds_to_next(now_ms, _TEN_S_MS))
        if c1m + count_1m > self.orders_1m:
            self.refuse(ip, now_ms)
            raise too_many_orders(self.orders_1m, "1 MINUTE", _seconds_to_next(now_ms, _MINUTE_MS))
        self._orders_10s_count += count_10s
        self._orders_1m_count += count_1m
        return self._orders_10s_count, self._orders_1m_count


def _seconds_to_next(now_ms: int, window_ms: int) -> int:
    """Whole seconds until the current fixed window ends (what `Retry-After` carries)."""
    return max(1, -(-(window_ms - now_ms % window_ms) // 1000))
