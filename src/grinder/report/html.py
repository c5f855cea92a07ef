"""`render_report(title, sections) -> str`: one self-contained HTML page (inline CSS + SVG, no JS).

Used by `grinder backtest --report` and by the demo. A section is a heading plus HTML built with
the helpers here (`table`, `key_values`, `paragraph`) or in `grinder.report.charts`; every piece of
text that reaches the page goes through `html.escape`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1000px;
color:#222;padding:0 12px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;border-bottom:1px solid #ddd;padding-bottom:4px;
margin-top:28px}
.sub{color:#666;margin-top:0}table{border-collapse:collapse;margin:8px 0;font-size:13px}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}th{background:#f3f3f3}
td.k{text-align:left;color:#444}td.t,th.t{text-align:left}.note{color:#666;font-size:12px}
.empty{color:#999}footer{margin-top:32px;color:#888;font-size:12px}
"""


@dataclass(frozen=True, slots=True)
class Section:
    """A report section: `body` is trusted HTML produced by this package's helpers."""

    title: str
    body: str
    note: str = ""


def _cell(v: object) -> str:
    if isinstance(v, float):
        return escape(f"{v:,.6g}" if abs(v) < 1e6 else f"{v:,.0f}")
    return escape(str(v))


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], *, max_rows: int = 500) -> str:
    """An HTML table; text columns (non-numbers) are left-aligned; long tables are cut with a note."""
    out = ["<table><tr>" + "".join(f"<th>{escape(h)}</th>" for h in headers) + "</tr>"]
    count = 0
    total = 0
    for row in rows:
        total += 1
        if count >= max_rows:
            continue
        count += 1
        cells = []
        for v in row:
            cls = "" if isinstance(v, int | float) else ' class="t"'
            cells.append(f"<td{cls}>{_cell(v)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    if total > count:
        out.append(f'<p class="note">showing {count} of {total} rows</p>')
    return "".join(out)


def key_values(items: Mapping[str, object]) -> str:
    """A two-column table of named figures."""
    rows = "".join(f'<tr><td class="k">{escape(k)}</td><td>{_cell(v)}</td></tr>' for k, v in items.items())
    return f"<table>{rows}</table>"


def paragraph(text: str) -> str:
    return f"<p>{escape(text)}</p>"


def render_report(
    title: str, sections: Sequence[Section], *, subtitle: str = "", generated_ms: int | None = None
) -> str:
    """The whole page. `generated_ms` (epoch ms) is printed in the footer; omit it for byte-stable output."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
    ]
    if subtitle:
        parts.append(f'<p class="sub">{escape(subtitle)}</p>')
    for s in sections:
        parts.append(f"<section><h2>{escape(s.title)}</h2>{s.body}")
        if s.note:
            parts.append(f'<p class="note">{escape(s.note)}</p>')
        parts.append("</section>")
    footer = "GRINDER report"
    if generated_ms is not None:
        footer += " · generated " + datetime.fromtimestamp(generated_ms / 1000, tz=UTC).strftime(
            "%Y-%m-%d %H:%M:%S UTC"
        )
    parts.append(f"<footer>{escape(footer)}</footer></body></html>")
    return "\n".join(parts)
