"""The whole of `grinder optimize` minus argument parsing: one study, or one per walk-forward window,
then the chosen parameters re-run in-sample and out-of-sample for the report.

Choice rule (one point of the Pareto front): with both `net_pnl` and `max_drawdown` objectives, the
feasible Pareto trial with the largest net PnL minus max drawdown (USDT - USDT); otherwise the best
feasible trial of the first objective. Ties go to the lower trial number.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import optuna
from distributed import Client
from optuna.trial import FrozenTrial, TrialState

from grinder.optimize.evaluate import DataSpec, TrialJob, cached_tape, run_trial
from grinder.optimize.space import OBJECTIVES, Space
from grinder.optimize.study import FIGURES_ATTR, OptimizeError, Progress, StudyDriver
from grinder.optimize.windows import Window, rolling_windows

EQUITY_POINTS = 400


@dataclass(frozen=True, slots=True)
class DataSpan:
    start_ms: int
    end_ms: int
    events: int
    symbols: tuple[str, ...]


def data_span(spec: DataSpec) -> DataSpan:
    """Loads (and caches) the data on the worker that runs it; the driver only needs its span."""
    tape, _ = cached_tape(spec)
    clock = tape.clock_ms
    return DataSpan(int(clock[0]), int(clock[-1]), len(tape), tuple(tape.symbols))


@dataclass(slots=True)
class StudyOutcome:
    """One study's trials and the chosen parameters with their re-run figures."""

    name: str
    window: Window | None
    trials: list[FrozenTrial]
    pareto: list[FrozenTrial]
    chosen: FrozenTrial | None
    importances: dict[str, dict[str, float]]
    in_sample: dict[str, Any] = field(default_factory=dict)  # chosen params on the train span
    out_of_sample: dict[str, Any] = field(default_factory=dict)  # ... on the test span (walk-forward)
    progress: Progress = field(default_factory=Progress)


def feasible(t: FrozenTrial) -> bool:
    return all(v <= 0 for v in t.constraints.values())


def choose(pareto: list[FrozenTrial], space: Space) -> FrozenTrial | None:
    candidates = [t for t in pareto if feasible(t)]
    if not candidates:
        return None
    if "net_pnl" in space.objectives and "max_drawdown" in space.objectives:
        i, j = space.objectives.index("net_pnl"), space.objectives.index("max_drawdown")
        return max(candidates, key=lambda t: (t.values[i] - t.values[j], -t.number))
    sign = 1.0 if OBJECTIVES[space.objectives[0]][1] == "maximize" else -1.0
    return max(candidates, key=lambda t: (sign * t.values[0], -t.number))


def _objective(i: int, sign: float) -> Callable[[FrozenTrial], float]:
    def value(t: FrozenTrial) -> float:
        return sign * float(t.values[i])

    return value


def importances(study: optuna.Study, space: Space) -> dict[str, dict[str, float]]:
    """Parameter importance per objective (Optuna's default PED-ANOVA, which ranks what it takes to
    reach low values: maximised objectives are negated); empty when too few trials to tell."""
    out: dict[str, dict[str, float]] = {}
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < 3 or len(space.params) < 1:
        return out
    for i, name in enumerate(space.objectives):
        try:
            sign = -1.0 if OBJECTIVES[name][1] == "maximize" else 1.0
            with warnings.catch_warnings():  # the "low target values" reminder: handled by `sign`
                warnings.simplefilter("ignore", UserWarning)
                out[name] = optuna.importance.get_param_importances(study, target=_objective(i, sign))
        except (RuntimeError, ValueError, ZeroDivisionError):
            continue
    return out


@dataclass(slots=True)
class Optimization:
    """Inputs of one `grinder optimize` run."""

    study_name: str
    space: Space
    job: TrialJob
    n_trials: int
    walk_forward: tuple[int, int] | None = None  # (train ms, test ms)


def _rerun(client: Client, job: TrialJob, params: dict[str, Any], window: tuple[int, int] | None) -> Any:
    return client.submit(
        run_trial,
        replace(job, params=tuple(sorted(params.items())), window=window, equity_points=EQUITY_POINTS),
        pure=False,
    )


def run_optimization(driver: StudyDriver, opt: Optimization) -> tuple[DataSpan, list[StudyOutcome]]:
    client = driver.client
    span: DataSpan = client.submit(data_span, opt.job.data, pure=False).result()
    if opt.walk_forward is None:
        plans: list[tuple[str, Window | None]] = [(opt.study_name, None)]
    else:
        plans = [
            (f"{opt.study_name}-wf{w.index}", w)
            for w in rolling_windows(span.start_ms, span.end_ms, *opt.walk_forward)
        ]
    outcomes = []
    for name, window in plans:
        job = replace(opt.job, window=None if window is None else window.train)
        study, progress = driver.run(name, opt.space, job, opt.n_trials)
        trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        pareto = study.best_trials if len(opt.space.objectives) > 1 else [study.best_trial]
        chosen = choose(pareto, opt.space)
        out = StudyOutcome(
            name, window, trials, pareto, chosen, importances(study, opt.space), progress=progress
        )
        if chosen is not None:
            is_f = _rerun(client, opt.job, chosen.params, job.window)
            oos_f = None if window is None else _rerun(client, opt.job, chosen.params, window.test)
            out.in_sample = is_f.result()
            if oos_f is not None:
                out.out_of_sample = oos_f.result()
        outcomes.append(out)
    if not any(o.trials for o in outcomes):
        raise OptimizeError("no trial completed; see the errors above")
    return span, outcomes


def trial_figures(t: FrozenTrial) -> dict[str, Any]:
    figures = t.user_attrs.get(FIGURES_ATTR, {})
    return figures if isinstance(figures, dict) else {}
