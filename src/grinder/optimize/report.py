"""The optimisation report: HTML in the backtest report's style, plus a terminal summary and JSON.

Sections: what was searched; per walk-forward window the chosen parameters in-sample vs
out-of-sample; the Pareto front of each study (chart + table); parameter importances; the equity of
the chosen parameters (walk-forward: the out-of-sample spans stitched end to end).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np

from grinder.optimize.runner import DataSpan, StudyOutcome, trial_figures
from grinder.optimize.space import OBJECTIVES, Space
from grinder.report import (
    Line,
    Markers,
    Panel,
    Section,
    chart,
    equity_drawdown_chart,
    key_values,
    render_report,
    table,
)


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


def _num(v: Any) -> Any:
    return "n/a" if v is None else round(float(v), 4)


def _params(p: dict[str, Any]) -> str:
    return ", ".join(f"{k}={round(v, 4) if isinstance(v, float) else v}" for k, v in sorted(p.items()))


def window_rows(outcomes: list[StudyOutcome]) -> list[list[Any]]:
    rows = []
    for o in outcomes:
        w = o.window
        is_f, oos_f = o.in_sample, o.out_of_sample
        rows.append(
            [
                o.name,
                "all data" if w is None else f"{_day(w.train[0])} → {_day(w.train[1])}",
                "—" if w is None else f"{_day(w.test[0])} → {_day(w.test[1])}",
                len(o.trials),
                _num(is_f.get("net_pnl_usdt")),
                _num(is_f.get("max_drawdown_usdt")),
                _num(oos_f.get("net_pnl_usdt")) if w else "—",
                _num(oos_f.get("max_drawdown_usdt")) if w else "—",
                int(oos_f.get("fills") or 0) if w else int(is_f.get("fills") or 0),
                "none feasible" if o.chosen is None else f"#{o.chosen.number}: {_params(o.chosen.params)}",
            ]
        )
    return rows


WINDOW_HEADERS = [
    "study",
    "train (in-sample)",
    "test (out-of-sample)",
    "trials",
    "IS net PnL",
    "IS max DD",
    "OOS net PnL",
    "OOS max DD",
    "fills",
    "chosen parameters",
]


def _pareto_chart(o: StudyOutcome, space: Space) -> str:
    if len(space.objectives) < 2:
        return '<p class="empty">single objective: no Pareto front</p>'
    xs = np.array([t.values[1] for t in o.trials], dtype=np.float64)
    ys = np.array([t.values[0] for t in o.trials], dtype=np.float64)
    front = sorted(o.pareto, key=lambda t: t.values[1])
    fx = [t.values[1] for t in front]
    fy = [t.values[0] for t in front]
    markers = [Markers("trial", xs, ys, "#999999", "dot"), Markers("Pareto front", fx, fy, "#d62728", "dot")]
    if o.chosen is not None:
        markers.append(Markers("chosen", [o.chosen.values[1]], [o.chosen.values[0]], "#2ca02c", "up"))
    panel = Panel(
        f"{o.name}: {space.objectives[0]} vs {space.objectives[1]}",
        [Line("front", fx, fy, color="#d62728", step=False)],
        markers,
        y_label=OBJECTIVES[space.objectives[0]][0],
    )
    return chart([panel], time_axis=False, panel_height=260)


def _pareto_table(o: StudyOutcome, space: Space) -> str:
    rows = [
        [t.number, *(_num(v) for v in t.values), int(trial_figures(t).get("fills") or 0), _params(t.params)]
        for t in sorted(o.pareto, key=lambda t: t.number)
    ]
    return table(["trial", *space.objectives, "fills", "parameters"], rows)


def _importance_table(outcomes: list[StudyOutcome], space: Space) -> str:
    rows = []
    for o in outcomes:
        for objective, imp in o.importances.items():
            for name in (p.name for p in space.params):
                rows.append([o.name, objective, name, _num(imp.get(name))])
    if not rows:
        return '<p class="empty">too few complete trials to estimate importances</p>'
    return table(["study", "objective", "parameter", "importance (PED-ANOVA)"], rows)


def stitched_equity(outcomes: list[StudyOutcome]) -> tuple[list[int], list[float]]:
    """Equity of the chosen parameters: the out-of-sample runs joined end to end (each one starts where
    the previous ended); without walk-forward, the in-sample run over all the data."""
    times: list[int] = []
    equity: list[float] = []
    for o in outcomes:
        run = o.out_of_sample if o.window is not None else o.in_sample
        t, e = run.get("equity_time_ms", []), run.get("equity_usdt", [])
        if not e:
            continue
        base = e[0]
        start = equity[-1] if equity else e[0]
        carry = start - base
        times.extend(t)
        equity.extend(v + carry for v in e)
    return times, equity


def html(space: Space, span: DataSpan, outcomes: list[StudyOutcome], *, storage: str, title: str) -> str:
    wf = outcomes[0].window is not None
    summary = {
        "study": outcomes[0].name.rsplit("-wf", 1)[0] if wf else outcomes[0].name,
        "storage": storage,
        "sampler": space.sampler,
        "objectives": ", ".join(f"{o} ({OBJECTIVES[o][1]})" for o in space.objectives),
        "constraints": ", ".join(
            f"{k} ≤ {v}" if "max" in k else f"{k} ≥ {v}" for k, v in space.constraints.items()
        )
        or "none",
        "searched": ", ".join(p.name for p in space.params),
        "data": f"{', '.join(span.symbols)} · {span.events:,} events · "
        f"{_day(span.start_ms)} → {_day(span.end_ms)}",
        "walk-forward windows": len(outcomes) if wf else "no (one study over all data)",
        "complete trials": sum(len(o.trials) for o in outcomes),
    }
    sections = [
        Section("Study", key_values(summary)),
        Section(
            "In-sample vs out-of-sample per window" if wf else "Chosen parameters",
            table(WINDOW_HEADERS, window_rows(outcomes)),
            note="Chosen: the feasible Pareto trial with the largest net PnL minus max drawdown; "
            "IS = re-run on the study's own span, OOS = the next, unseen span.",
        ),
    ]
    times, equity = stitched_equity(outcomes)
    sections.append(
        Section(
            "Equity of the chosen parameters" + (" (out-of-sample, stitched)" if wf else ""),
            equity_drawdown_chart(times, equity) if equity else '<p class="empty">no run</p>',
        )
    )
    for o in outcomes:
        sections.append(
            Section(f"Pareto front · {o.name}", _pareto_chart(o, space) + _pareto_table(o, space))
        )
    sections.append(Section("Parameter importances", _importance_table(outcomes, space)))
    return render_report(title, sections, subtitle=str(summary["data"]))


def json_doc(space: Space, span: DataSpan, outcomes: list[StudyOutcome]) -> dict[str, Any]:
    return {
        "objectives": list(space.objectives),
        "data": {
            "start_ms": span.start_ms,
            "end_ms": span.end_ms,
            "events": span.events,
            "symbols": span.symbols,
        },
        "studies": [
            {
                "name": o.name,
                "train": None if o.window is None else list(o.window.train),
                "test": None if o.window is None else list(o.window.test),
                "complete_trials": len(o.trials),
                "pareto": [{"number": t.number, "values": t.values, "params": t.params} for t in o.pareto],
                "chosen": None
                if o.chosen is None
                else {"number": o.chosen.number, "params": o.chosen.params},
                "in_sample": {k: v for k, v in o.in_sample.items() if not k.startswith("equity")},
                "out_of_sample": {k: v for k, v in o.out_of_sample.items() if not k.startswith("equity")},
                "importances": o.importances,
                "told_by_this_process": o.progress.told,
            }
            for o in outcomes
        ],
    }


def print_summary(outcomes: list[StudyOutcome]) -> None:
    """One row per study (in-sample vs out-of-sample), then the chosen parameters."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    t = Table(title="GRINDER optimize")
    for h in ("study", "trials", "IS net PnL", "IS max DD", "OOS net PnL", "OOS max DD"):
        t.add_column(h, justify="left" if h == "study" else "right")
    for row in window_rows(outcomes):
        t.add_row(str(row[0]), *(str(row[i]) for i in (3, 4, 5, 6, 7)))
    console.print(t)
    for row in window_rows(outcomes):
        console.print(f"chosen {row[0]}: {row[-1]}", soft_wrap=True)
