"""The study's results do not depend on how the driver talks to its storage: a fixed seed gives the
same trials with the same parameters and the same objective values, pinned here from the driver as it
was before its storage round-trips were cut (commit 2c4c3ac)."""

from __future__ import annotations

from typing import Any

import pytest
from distributed import Client, LocalCluster
from tests.optimize.conftest import Inputs

from grinder.optimize.evaluate import DataSpec, TrialJob
from grinder.optimize.space import load_space
from grinder.optimize.study import StudyDriver, open_storage

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

# (trial number, parameters, (net PnL, max drawdown)) of the demo space (seed 7) on the `inputs` data.
# Ten trials: all of them are TPE's seeded start-up samples, so the pin holds whatever order the
# trials finish in; later trials depend on which results were told before each ask.
PINNED: list[tuple[int, dict[str, Any], tuple[float, float]]] = [
    (
        0,
        {
            "grid.levels": 5,
            "grid.reanchor_spacings": 1.5960230786022338,
            "grid.spacing_bps": 2.4590961382321415,
        },
        (-2.490654799999902, 2.504254800000126),
    ),
    (
        1,
        {
            "grid.levels": 6,
            "grid.reanchor_spacings": 1.8462396760260842,
            "grid.spacing_bps": 14.187016294426117,
        },
        (-0.03533803999926022, 0.21820000000116124),
    ),
    (
        2,
        {
            "grid.levels": 1,
            "grid.reanchor_spacings": 1.171097450254678,
            "grid.spacing_bps": 7.769505754917563,
        },
        (0.8083015200008958, 0.881600000000617),
    ),
    (
        3,
        {
            "grid.levels": 5,
            "grid.reanchor_spacings": 2.509347590260939,
            "grid.spacing_bps": 7.743502366986878,
        },
        (0.1143792000002577, 0.41154112000003806),
    ),
    (
        4,
        {
            "grid.levels": 1,
            "grid.reanchor_spacings": 1.2203639982699839,
            "grid.spacing_bps": 5.611145528907292,
        },
        (0.11843007999959809, 0.654675199999474),
    ),
    (
        5,
        {
            "grid.levels": 2,
            "grid.reanchor_spacings": 1.6303099045442078,
            "grid.spacing_bps": 23.485239471738613,
        },
        (0.0, 0.0),
    ),
    (
        6,
        {
            "grid.levels": 1,
            "grid.reanchor_spacings": 2.0013722936603062,
            "grid.spacing_bps": 24.900797459565254,
        },
        (0.0, 0.0),
    ),
    (
        7,
        {
            "grid.levels": 2,
            "grid.reanchor_spacings": 1.871224798090076,
            "grid.spacing_bps": 26.21011920054517,
        },
        (0.0, 0.0),
    ),
    (
        8,
        {
            "grid.levels": 1,
            "grid.reanchor_spacings": 1.8085314516844146,
            "grid.spacing_bps": 23.455674744833015,
        },
        (0.0, 0.0),
    ),
    (
        9,
        {
            "grid.levels": 5,
            "grid.reanchor_spacings": 1.6693821493624519,
            "grid.spacing_bps": 15.260911423910674,
        },
        (-0.022540600000866107, 0.21819999999934225),
    ),
]


@pytest.mark.parametrize("workers", [1, 2])  # two: the driver holds its spare trial (StudyDriver._release)
def test_a_fixed_seed_gives_the_pinned_trials_and_values(inputs: Inputs, tmp_path: Any, workers: int) -> None:
    job = TrialJob(DataSpec((str(inputs.data),)), inputs.config.read_text(encoding="utf-8"), ())
    space = load_space(inputs.space)
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        storage = open_storage(f"sqlite:///{tmp_path / 'study.db'}", 5, 30)
        study, progress = StudyDriver(client, storage).run("pin", space, job, len(PINNED))
    assert progress.told == len(PINNED) and progress.surplus == 0
    got = sorted(study.trials, key=lambda t: t.number)
    assert [t.state.name for t in got] == ["COMPLETE"] * len(PINNED)
    for t, (number, params, values) in zip(got, PINNED, strict=True):
        assert t.number == number
        assert t.params == pytest.approx(params, rel=0, abs=0)
        assert tuple(t.values) == pytest.approx(values, rel=0, abs=1e-9)


def _worker_diagnostics() -> tuple[Any, ...]:
    import dask

    get = dask.config.get
    return (
        get("distributed.worker.profile.enabled"),
        get("distributed.admin.system-monitor.interval"),
        get("distributed.admin.tick.interval"),
    )


def test_the_local_cluster_workers_do_not_sample_the_backtest() -> None:
    """ADR-285: the worker processes `grinder optimize` starts run without Dask's statistical profiler
    and with slow diagnostics; the driver's own Dask config is left as it was."""
    import dask

    from grinder.optimize.cli import dask_client

    before = dask.config.get("distributed.worker.profile.enabled")
    with dask_client(None, 1) as client:
        seen = list(client.run(_worker_diagnostics).values())
    assert seen == [(False, "2s", "200ms")]
    assert dask.config.get("distributed.worker.profile.enabled") == before
