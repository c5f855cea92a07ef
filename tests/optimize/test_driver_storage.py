"""`DriverStorage`: the driver's shortcuts return what the database holds, and the database still
has the last word on trials another process finished (no Dask, one SQLite file, two storages)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import TrialState

from grinder.optimize.study import DriverStorage, open_storage

pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")


def test_own_running_trials_read_back_what_was_written_and_counts_match_the_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    mine = DriverStorage(open_storage(url, 5, 30))
    study = optuna.create_study(study_name="s", storage=mine, directions=["maximize", "minimize"])
    sid = mine.get_study_id_from_name("s")
    study.enqueue_trial({"x": 0.5})  # a queued copy (WAITING) is nobody's own trial yet
    assert mine.count_trials(sid) == {TrialState.WAITING: 1}

    taken = study.ask()  # takes the queued trial
    fresh = study.ask()
    x = fresh.suggest_float("x", 0.0, 1.0)
    fresh.set_user_attr("figures", {"net": 1.5})
    fresh.set_constraint("pos", -0.25)
    own = mine.get_trial(fresh._trial_id)
    db = open_storage(url, 5, 30).get_trial(fresh._trial_id)  # another process's view
    for t in (own, db):
        assert t.params == {"x": x} and t.user_attrs == {"figures": {"net": 1.5}}
        assert t.system_attrs["constraints:pos"] == -0.25 and t.state == TrialState.RUNNING
    own.user_attrs["figures"]["net"] = 99.0  # callers get a copy
    assert mine.get_trial(fresh._trial_id).user_attrs["figures"]["net"] == 1.5
    assert taken.suggest_float("x", 0.0, 1.0) == 0.5
    assert mine.count_trials(sid) == {TrialState.RUNNING: 2}
    assert mine.count_trials(sid, below=fresh.number) == {TrialState.RUNNING: 1}

    study.tell(fresh, [1.0, 2.0])
    done = mine.get_trial(fresh._trial_id)
    assert done.state == TrialState.COMPLETE and done.values == [1.0, 2.0]
    assert mine.count_trials(sid) == {TrialState.RUNNING: 1, TrialState.COMPLETE: 1}


def test_a_trial_another_process_failed_is_refused_at_the_next_write(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    mine = DriverStorage(open_storage(url, 5, 30))
    study = optuna.create_study(study_name="s", storage=mine, directions=["maximize", "minimize"])
    trial = study.ask()
    trial.suggest_float("x", 0.0, 1.0)
    other = open_storage(url, 5, 30)  # e.g. a driver whose stale check failed this trial
    assert other.set_trial_state_values(trial._trial_id, TrialState.FAIL)
    with pytest.raises(UpdateFinishedTrialError):
        trial.set_user_attr("figures", {})
    assert mine.get_trial(trial._trial_id).state == TrialState.FAIL  # read from the database again


def test_one_read_serves_a_trials_sampling_from_a_single_database_read(tmp_path: Path) -> None:
    """TPE (constant liar) reads every trial once per parameter; inside `one_read` the database is read
    once and the answers are what it holds; outside, every call reads it again."""
    import sqlalchemy

    url = f"sqlite:///{tmp_path / 'study.db'}"
    rdb = open_storage(url, 5, 30)
    mine = DriverStorage(rdb)
    study = optuna.create_study(study_name="s", storage=mine, directions=["maximize", "minimize"])
    sid = mine.get_study_id_from_name("s")
    for v in (0.1, 0.2):
        t = study.ask()
        t.suggest_float("x", 0.0, 1.0)
        study.tell(t, [v, v])
    running = study.ask()
    running.suggest_float("x", 0.0, 1.0)
    selects = [0]

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        selects[0] += statement.lstrip().upper().startswith("SELECT")

    sqlalchemy.event.listen(rdb.engine, "before_cursor_execute", count)
    with mine.one_read(sid):
        everything = mine.get_all_trials(sid, deepcopy=False)
        reads = selects[0]
        assert reads > 0
        done = mine.get_all_trials(sid, deepcopy=False, states=(TrialState.COMPLETE,))
        copies = mine.get_all_trials(sid, deepcopy=True, states=[TrialState.COMPLETE, TrialState.RUNNING])
        assert selects[0] == reads  # answered from the first read
    assert [t.number for t in everything] == [0, 1, 2]
    assert [t.values for t in done] == [[0.1, 0.1], [0.2, 0.2]]
    assert [t.state for t in copies] == [TrialState.COMPLETE, TrialState.COMPLETE, TrialState.RUNNING]
    copies[0].params["x"] = 42.0  # a deep copy: the storage's own trial is untouched
    assert mine.get_all_trials(sid)[0].params["x"] != 42.0
    before = selects[0]
    mine.get_all_trials(sid, deepcopy=False)
    assert selects[0] > before  # outside the block the database is read again


def _driver_study(inputs: Any, url: str) -> tuple[Any, Any, Any]:
    from grinder.optimize.evaluate import DataSpec, TrialJob
    from grinder.optimize.space import load_space
    from grinder.optimize.study import StudyDriver

    space = load_space(inputs.space)
    job = TrialJob(DataSpec((str(inputs.data),)), inputs.config.read_text(encoding="utf-8"), ())
    driver = StudyDriver(None, open_storage(url, 1, 2))  # type: ignore[arg-type]  # no trial runs here
    return driver, driver.open("s", space, job), space


def test_a_result_for_a_trial_another_driver_failed_is_dropped_and_not_queued_twice(
    inputs: Any, tmp_path: Path
) -> None:
    """A driver that missed its heartbeats finds its trial failed (and queued again) by another
    driver: its late result is dropped, the run goes on, and abandoning the trial queues nothing more."""
    from grinder.optimize.evaluate import FIGURES
    from grinder.optimize.study import Progress, suggest

    url = f"sqlite:///{tmp_path / 'study.db'}"
    driver, study, space = _driver_study(inputs, url)
    late, other_late = study.ask(), study.ask()
    suggest(late, space)
    suggest(other_late, space)
    other = open_storage(url, 1, 2)  # the other driver's stale check
    for t in (late, other_late):
        assert other.set_trial_state_values(t._trial_id, TrialState.FAIL)
    progress = Progress()
    figures: dict[str, Any] = {k: 0.0 for k in FIGURES} | {"max_abs_position_qty": 0.0}
    driver._tell(study, space, late, figures, progress)
    assert (progress.told, progress.taken_over) == (0, 1)
    driver._abandon(study, {}, [other_late], progress)
    assert (progress.requeued, progress.taken_over) == (0, 2)
    assert not study.get_trials(states=(TrialState.WAITING,))
    assert [t.state for t in study.get_trials()] == [TrialState.FAIL, TrialState.FAIL]


def test_abandoning_a_trial_while_another_driver_fails_it_queues_its_parameters_once(
    inputs: Any, tmp_path: Path
) -> None:
    """Another driver's stale check (FAIL, then queue the parameters if the FAIL was accepted) runs
    while this driver abandons the same trial: its parameters are queued exactly once, whichever
    FAIL the database takes."""
    from grinder.optimize.study import Progress, suggest

    url = f"sqlite:///{tmp_path / 'study.db'}"
    driver, study, space = _driver_study(inputs, url)
    trial = study.ask()
    suggest(trial, space)
    other = open_storage(url, 1, 2)
    sid = other.get_study_id_from_name("s")
    own_enqueue = study.enqueue_trial

    def enqueue_while_the_other_driver_fails_it(params: dict[str, Any], *args: Any, **kw: Any) -> None:
        try:
            other.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        except UpdateFinishedTrialError:
            pass  # this driver's FAIL came first: the other driver queues nothing
        else:
            optuna.Study(study_name="s", storage=other).enqueue_trial(params)
        own_enqueue(params, *args, **kw)

    study.enqueue_trial = enqueue_while_the_other_driver_fails_it  # type: ignore[method-assign]
    driver._abandon(study, {}, [trial], Progress())
    waiting = other.get_all_trials(sid, states=(TrialState.WAITING,))
    assert len(waiting) == 1
    assert waiting[0].system_attrs["fixed_params"] == trial.params  # what a queued trial will run


def test_the_heartbeat_thread_keeps_tracked_trials_fresh_while_the_driver_is_blocked(
    inputs: Any, tmp_path: Path
) -> None:
    """Only an untracked trial goes stale: the tracked one is beaten by the thread although the test's
    (the driver's) thread records nothing itself."""
    import time

    from grinder.optimize.study import TrialHeartbeat

    url = f"sqlite:///{tmp_path / 'study.db'}"
    driver, study, _ = _driver_study(inputs, url)
    sid = driver.studies.get_study_id_from_name("s")
    tracked, untracked = study.ask(), study.ask()
    for t in (tracked, untracked):
        driver.storage.record_heartbeat(t._trial_id)
    beat = TrialHeartbeat(driver.storage, 0.2)
    beat.track([tracked])
    beat.start()
    try:
        deadline = time.monotonic() + 30
        while untracked._trial_id not in driver.storage._get_stale_trial_ids(sid):  # grace: 2 s
            assert time.monotonic() < deadline, "the untracked trial never went stale"
            time.sleep(0.1)
        assert tracked._trial_id not in driver.storage._get_stale_trial_ids(sid)
        assert beat.beats >= 5
    finally:
        beat.stop()


def test_a_running_trial_that_never_got_a_heartbeat_is_given_one_once_it_is_old(tmp_path: Path) -> None:
    """A driver killed between creating a trial and its first heartbeat: Optuna's stale check skips a
    trial without a heartbeat, so the driver gives it one once it is older than the cutoff (then it goes
    stale after --grace like any orphan). A young trial, or one with a heartbeat, is left alone."""
    import sqlalchemy

    url = f"sqlite:///{tmp_path / 'study.db'}"
    rdb = open_storage(url, 1, 2)
    mine = DriverStorage(rdb)
    study = optuna.create_study(study_name="s", storage=mine, directions=["maximize", "minimize"])
    sid = mine.get_study_id_from_name("s")
    orphan, _young, beaten = study.ask(), study.ask(), study.ask()
    rdb.record_heartbeat(beaten._trial_id)
    with rdb.engine.begin() as conn:  # the orphan and the beaten trial started long ago
        conn.execute(sqlalchemy.text("UPDATE trials SET datetime_start = :t WHERE trial_id IN (:a, :b)"),
                     {"t": "2000-01-01 00:00:00.000000", "a": orphan._trial_id, "b": beaten._trial_id})
    assert mine.beat_orphans(sid, 10.0) == [orphan._trial_id]
    assert mine.beat_orphans(sid, 10.0) == []  # it has a heartbeat now
    with rdb.engine.connect() as conn:
        ids = {r[0] for r in conn.execute(sqlalchemy.text("SELECT trial_id FROM trial_heartbeats"))}
    assert ids == {orphan._trial_id, beaten._trial_id}  # the young trial is not touched
