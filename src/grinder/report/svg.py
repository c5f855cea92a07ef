"""Inline SVG charts (no JavaScript, no CDN): time-series lines, step lines and fill markers.

Long series are reduced to at most `max_points` per line by keeping each bucket's first, minimum,
maximum and last point, so spikes and drawdowns survive the reduction.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


@dataclass(frozen=True, slots=True)
class Line:
    label: str
    x: Sequence[float] | npt.NDArray[np.generic]  # epoch ms (time axis) or any number
    y: Sequence[float] | npt.NDArray[np.generic]
    color: str = ""
    step: bool = False  # draw as a step function (inventory)
    fill_to_zero: bool = False  # shade the area to y=0 (drawdown)


@dataclass(frozen=True, slots=True)
class Markers:
    label: str
    x: Sequence[float] | npt.NDArray[np.generic]
    y: Sequence[float] | npt.NDArray[np.generic]
    color: str
    shape: str = "up"  # "up" triangle (buys), "down" triangle (sells), "dot"


@dataclass(frozen=True, slots=True)
class Panel:
    title: str
    lines: Sequence[Line]
    markers: Sequence[Markers] = field(default_factory=tuple)
    y_label: str = ""


def reduce_series(x: npt.ArrayLike, y: npt.ArrayLike, max_points: int = 1500) -> tuple[F64, F64]:
    """At most ~max_points points that keep each bucket's first/min/max/last (shape-preserving)."""
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    n = len(xs)
    if n <= max_points:
        return xs, ys
    buckets = max(1, max_points // 4)
    edges = np.linspace(0, n, buckets + 1).astype(np.int64)
    keep: list[npt.NDArray[np.int64]] = []
    for s, e in itertools.pairwise(edges):
        if e <= s:
            continue
        seg = ys[s:e]
        keep.append(
            np.array(
                [
                    s,
                    s + int(np.nanargmin(seg)) if np.isfinite(seg).any() else s,
                    s + int(np.nanargmax(seg)) if np.isfinite(seg).any() else s,
                    e - 1,
                ]
            )
        )
    idx = np.unique(np.concatenate(keep))
    return xs[idx], ys[idx]


def _nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    if not math.isfinite(lo) or not math.isfinite(hi):
        return []
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step) * step
    out = []
    v = start
    while v <= hi + step * 1e-9:
        out.append(round(v, 12))
        v += step
    return out


def _fmt_num(v: float) -> str:
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:.2f}M"
    if a >= 1e4:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.4g}"


def _fmt_tick(v: float, step: float) -> str:
    """An axis label with just enough decimals to tell neighbouring ticks apart."""
    if step <= 0 or not math.isfinite(step):
        return _fmt_num(v)
    decimals = next((d for d in range(9) if abs(round(step, d) - step) <= step * 1e-6), 8)
    return f"{v:,.{decimals}f}"


def _fmt_time(ms: float, span_ms: float) -> str:
    """UTC tick label; always with the date (runs cross midnight, and a bare time hides which day)."""
    dt = datetime.fromtimestamp(ms / 1000.0, tz=UTC)
    if span_ms > 600_000:
        return dt.strftime("%Y-%m-%d %H:%M")
    return dt.strftime("%Y-%m-%d %H:%M:%S")


@dataclass(slots=True)
class _Frame:
    """Pixel mapping of one panel."""

    x0: float
    x1: float
    y0: float
    y1: float
    left: float
    top: float
    width: float
    height: float

    def sx(self, v: F64) -> F64:
        return self.left + (v - self.x0) / (self.x1 - self.x0) * self.width

    def sy(self, v: F64) -> F64:
        return self.top + self.height - (v - self.y0) / (self.y1 - self.y0) * self.height


def _y_range(panel: Panel) -> tuple[float, float]:
    ys = [np.asarray(ln.y, dtype=np.float64) for ln in panel.lines]
    ys += [np.asarray(m.y, dtype=np.float64) for m in panel.markers]
    finite = [y[np.isfinite(y)] for y in ys]
    finite = [y for y in finite if len(y)]
    y0 = min(float(y.min()) for y in finite) if finite else 0.0
    y1 = max(float(y.max()) for y in finite) if finite else 1.0
    if any(ln.fill_to_zero for ln in panel.lines):
        y0, y1 = min(y0, 0.0), max(y1, 0.0)
    if y1 <= y0:
        y0, y1 = y0 - 1.0, y1 + 1.0
    pad = (y1 - y0) * 0.05
    return y0 - pad, y1 + pad


def _line(fr: _Frame, ln: Line, color: str) -> list[str]:
    rx, ry = reduce_series(ln.x, ln.y)
    ok = np.isfinite(ry)
    rx, ry = rx[ok], ry[ok]
    if not len(rx):
        return []
    px, py = fr.sx(rx), fr.sy(ry)
    if ln.step and len(px) > 1:
        px = np.repeat(px, 2)[1:]
        py = np.repeat(py, 2)[:-1]
    pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(px.tolist(), py.tolist(), strict=True))
    out = []
    if ln.fill_to_zero:
        z = float(fr.sy(np.zeros(1))[0])
        poly = f"{px[0]:.1f},{z:.1f} {pts} {px[-1]:.1f},{z:.1f}"
        out.append(f'<polygon points="{poly}" fill="{color}" fill-opacity="0.25" stroke="none"/>')
    out.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="1.2"/>')
    return out


def _markers(fr: _Frame, m: Markers) -> list[str]:
    mx = np.asarray(m.x, dtype=np.float64)
    my = np.asarray(m.y, dtype=np.float64)
    if len(mx) > 4000:  # keep the page light: every k-th marker
        k = len(mx) // 4000 + 1
        mx, my = mx[::k], my[::k]
    out = []
    for a, b in zip(fr.sx(mx).tolist(), fr.sy(my).tolist(), strict=True):
        if m.shape == "up":
            d = f"M{a:.1f},{b - 4:.1f} l4,7 h-8 z"
        elif m.shape == "down":
            d = f"M{a:.1f},{b + 4:.1f} l4,-7 h-8 z"
        else:
            d = f"M{a - 2.5:.1f},{b:.1f} a2.5,2.5 0 1,0 5,0 a2.5,2.5 0 1,0 -5,0"
        out.append(f'<path d="{d}" fill="{m.color}" fill-opacity="0.8"/>')
    return out


def _panel(fr: _Frame, panel: Panel) -> list[str]:
    ml, top, pw, ph = fr.left, fr.top, fr.width, fr.height
    parts = [
        f'<text x="{ml}" y="{top - 8}" font-weight="bold">{escape(panel.title)}</text>',
        f'<rect x="{ml}" y="{top}" width="{pw}" height="{ph}" fill="#fafafa" stroke="#ccc"/>',
    ]
    ticks = _nice_ticks(fr.y0, fr.y1)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 0.0
    for tv in ticks:
        yy = float(fr.sy(np.array([tv]))[0])
        parts.append(f'<line x1="{ml}" x2="{ml + pw}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#e4e4e4"/>')
        parts.append(f'<text x="{ml - 4}" y="{yy + 4:.1f}" text-anchor="end">{_fmt_tick(tv, step)}</text>')
    if panel.y_label:
        parts.append(
            f'<text transform="translate(12,{top + ph / 2:.0f}) rotate(-90)" '
            f'text-anchor="middle">{escape(panel.y_label)}</text>'
        )
    legend_x = ml + 8
    for li, ln in enumerate(panel.lines):
        color = ln.color or PALETTE[li % len(PALETTE)]
        parts.extend(_line(fr, ln, color))
        parts.append(f'<text x="{legend_x}" y="{top + 14}" fill="{color}">■ {escape(ln.label)}</text>')
        legend_x += 26 + 7 * len(ln.label)
    for m in panel.markers:
        parts.extend(_markers(fr, m))
        glyph = "▼" if m.shape == "down" else "▲" if m.shape == "up" else "●"
        parts.append(f'<text x="{legend_x}" y="{top + 14}" fill="{m.color}">{glyph} {escape(m.label)}</text>')
        legend_x += 26 + 7 * len(m.label)
    return parts


def chart(
    panels: Sequence[Panel], *, width: int = 960, panel_height: int = 220, time_axis: bool = True
) -> str:
    """One SVG with stacked panels sharing the x axis (epoch ms when `time_axis`)."""
    ml, mr, mt, mb = 70, 16, 26, 26
    height = len(panels) * (panel_height + mt) + mb
    xs_all = [np.asarray(ln.x, dtype=np.float64) for p in panels for ln in p.lines if len(ln.x)]
    if not xs_all:
        return '<p class="empty">no data</p>'
    x0 = min(float(x.min()) for x in xs_all)
    x1 = max(float(x.max()) for x in xs_all)
    if x1 <= x0:
        x1 = x0 + 1.0
    pw = width - ml - mr
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" font-family="sans-serif" font-size="11">'
    ]
    fr = _Frame(x0, x1, 0.0, 1.0, ml, mt, pw, panel_height)
    for pi, panel in enumerate(panels):
        y0, y1 = _y_range(panel)
        fr = _Frame(x0, x1, y0, y1, ml, mt + pi * (panel_height + mt), pw, panel_height)
        parts.extend(_panel(fr, panel))
    bottom = fr.top + panel_height
    for tv in _nice_ticks(x0, x1, 6):
        xx = float(fr.sx(np.array([tv]))[0])
        label = _fmt_time(tv, x1 - x0) if time_axis else _fmt_num(tv)
        parts.append(f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="{bottom}" y2="{bottom + 4}" stroke="#888"/>')
        parts.append(f'<text x="{xx:.1f}" y="{bottom + 16}" text-anchor="middle">{label}</text>')
    parts.append("</svg>")
    return "\n".join(parts)
