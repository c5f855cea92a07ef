"""`grinder optimize` as it runs at scale: real PostgreSQL, a real Dask cluster of separate processes
on loopback, two drivers on one study, a worker killed mid-study, a driver killed mid-study, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState
from tests.optimize.conftest import DaskCluster, Inputs, child_env, stop, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(400)]
optuna.logging.set_verbosity(optuna.logging.WARNING)


def trials(storage: str, study: str, *states: TrialState) -> list[optuna.trial.FrozenTrial]:
    url = storage.replace("postgresql://", "postgresql+psycopg://")
    try:
        s = optuna.load_study(study_name=study, storage=url)
    except KeyError:  # not created yet
        return []
    return s.get_trials(deepcopy=False, states=states or None)


def complete(storage: str, study: str) -> list[optuna.trial.FrozenTrial]:
    return trials(storage, study, TrialState.COMPLETE)


def launch(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, env=child_env(), start_new_session=True
        )


def finish(proc: subprocess.Popen[bytes], log: Path, timeout: float = 240) -> str:
    try:
        rc = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        stop(proc)
        raise AssertionError(f"grinder optimize did not finish:\n{log.read_text()[-3000:]}") from None
    text = log.read_text()
    assert rc == 0, text[-3000:]
    return text


def figures(t: optuna.trial.FrozenTrial) -> dict[str, Any]:
    f = t.user_attrs["figures"]
    assert isinstance(f, dict)
    return f


def test_two_drivers_share_a_postgres_study_on_a_dask_cluster_and_survive_a_worker_kill(
    inputs: Inputs, postgres: str, dask_cluster: DaskCluster, tmp_path: Path
) -> None:
    n = 12
    base = [*inputs.args(postgres, n, "--scheduler", dask_cluster.address, "--study", "shared")]
    drivers = [
        launch([*base, "--json", str(tmp_path / f"d{i}.json")], tmp_path / f"d{i}.log") for i in range(2)
    ]
    try:
        # mid-study, one of the two worker processes dies hard (no nanny brings it back); first each
        # worker has finished a trial (a worker's first trial also loads the data, so three quick
        # completions can all come from the other one)
        def both_workers_done() -> bool:
            done = complete(postgres, "shared")
            return len(done) >= 3 and len({figures(t)["worker"] for t in done}) == 2

        wait_for(both_workers_done, 180, "3 complete trials, on both workers")
        victim = dask_cluster.workers[0]
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait(10)
        logs = [finish(d, tmp_path / f"d{i}.log") for i, d in enumerate(drivers)]
    finally:
        for d in drivers:
            stop(d)
    assert dask_cluster.n_workers() == 1

    done = complete(postgres, "shared")
    assert len(done) == n, [(t.number, t.state) for t in trials(postgres, "shared")]
    assert not trials(postgres, "shared", TrialState.RUNNING, TrialState.WAITING)
    # every complete trial was told by exactly one of the two drivers, and both took part
    told = [
        json.loads((tmp_path / f"d{i}.json").read_text())["studies"][0]["told_by_this_process"]
        for i in range(2)
    ]
    assert sum(told) == n and min(told) >= 1, told
    assert len({figures(t)["driver"] for t in done}) == 2
    assert all("complete trial(s)" in log for log in logs)
    # trials ran on both workers before the kill and on the survivor after it; each worker process
    # loaded the data at most once and served every other trial from its cache
    per_worker: dict[str, list[bool]] = {}
    for t in done:
        per_worker.setdefault(figures(t)["worker"], []).append(figures(t)["data_cached"])
    assert len(per_worker) == 2, per_worker
    assert all(cached.count(False) <= 1 for cached in per_worker.values()), per_worker

    # resume: the same command adds nothing; a larger --trials adds exactly the difference
    before = {t.number: t.values for t in done}
    again = launch([*base, "--json", str(tmp_path / "again.json")], tmp_path / "again.log")
    finish(again, tmp_path / "again.log")
    assert json.loads((tmp_path / "again.json").read_text())["studies"][0]["told_by_this_process"] == 0
    more = launch([*inputs.args(postgres, n + 1, "--scheduler", dask_cluster.address, "--study", "shared")],
                  tmp_path / "more.log")  # fmt: skip
    finish(more, tmp_path / "more.log")
    after = {t.number: t.values for t in complete(postgres, "shared")}
    assert len(after) == n + 1
    assert {k: after[k] for k in before} == before  # nothing completed earlier was lost or redone


def test_a_killed_driver_loses_only_its_running_trials_and_a_rerun_finishes_the_study(
    inputs: Inputs, tmp_path: Path
) -> None:
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    # Enough trials that the kill lands mid-study: a 4,000-event trial takes ~0.25 s, and between the
    # second completion and the kill the poll (0.2 s, plus loading the study) lets a few more finish.
    n = 16
    args = inputs.args(storage, n, "--workers", "1", "--study", "killed")
    first = launch(args, tmp_path / "first.log")
    try:
        wait_for(lambda: len(complete(storage, "killed")) >= 2, 180, "2 complete trials")
        os.killpg(first.pid, signal.SIGKILL)  # the driver and its local Dask cluster, mid-trial
        first.wait(10)
    finally:
        stop(first)
    kept = {t.number: (t.params, t.values) for t in complete(storage, "killed")}
    orphaned = trials(storage, "killed", TrialState.RUNNING)
    assert 2 <= len(kept) < n

    rerun = launch([*args, "--json", str(tmp_path / "rerun.json")], tmp_path / "rerun.log")
    finish(rerun, tmp_path / "rerun.log")
    done = complete(storage, "killed")
    assert len(done) == n
    assert {t.number: (t.params, t.values) for t in done if t.number in kept} == kept
    assert not trials(storage, "killed", TrialState.RUNNING, TrialState.WAITING)
    # a trial the dead driver left running went stale, was failed and its parameters queued again
    failed = {t.number for t in trials(storage, "killed", TrialState.FAIL)}
    assert {t.number for t in orphaned} <= failed
    for o in orphaned:
        retried = [t for t in done if t.system_attrs.get("failed_trial") == o.number]
        assert len(retried) == 1, o.number
        # the retry runs the parameters the orphan had drawn (all of them, or those drawn before the
        # kill came between two suggestions; the rest are drawn afresh)
        assert o.params.items() <= retried[0].params.items(), (o.number, o.params, retried[0].params)
