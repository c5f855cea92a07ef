"""Drive one Optuna study with trials executed on a Dask cluster (ask here, run there, tell here).

The study lives in an RDB storage (SQLite file by default, PostgreSQL for many machines), so any
number of `grinder optimize` processes can work on the same study at once and a rerun continues
it. Budget: the study stops at `n_trials` trials that are complete, running or queued, counted
across every process; a race between two processes is settled by trial number (the later trial
gives way and is recorded as FAIL with `surplus` set).

Losing things:
- a Dask worker dies: the scheduler reruns its task on another worker; only the running
  backtest is lost, the trial still completes once;
- a driver dies: its trials stop getting heartbeats; after the grace period any driver marks them
  FAIL and queues their parameters again (Optuna's RetryHeartbeatStaleTrialCallback), so a rerun finishes
  them; completed trials are never repeated.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import logging
import os
import socket
import threading
import time
import warnings
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from concurrent.futures import CancelledError
from dataclasses import dataclass, replace
from typing import Any

import optuna
from distributed import Client, Future, wait
from optuna._typing import JSONSerializable
from optuna.distributions import BaseDistribution
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback, fail_stale_trials
from optuna.storages._cached_storage import _CachedStorage
from optuna.trial import FrozenTrial, Trial, TrialState

from grinder.optimize.evaluate import TrialJob, run_trial
from grinder.optimize.space import Space

log = logging.getLogger(__name__)
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
# ask/tell with heartbeats is what GRINDER wants (the driver beats for trials running elsewhere)
warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")
optuna.logging.set_verbosity(optuna.logging.WARNING)

ACTIVE = (TrialState.COMPLETE, TrialState.RUNNING, TrialState.WAITING)
FIGURES_ATTR = "figures"
MAX_RESUBMITS = 3
FINGERPRINT_ATTR = "grinder_fingerprint"


class OptimizeError(ValueError):
    """Something the operator must fix before the study can go on (one line, exit 2)."""


def storage_url(url: str) -> str:
    """`postgresql://` means psycopg 3 (the driver GRINDER installs)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def open_storage(url: str, heartbeat_s: int, grace_s: int) -> RDBStorage:
    url = storage_url(url)
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs = {"connect_args": {"timeout": 60}}
    elif url.startswith("postgresql"):
        kwargs = {"pool_pre_ping": True}
    try:
        storage = RDBStorage(
            url,
            engine_kwargs=kwargs,
            heartbeat_interval=heartbeat_s,
            grace_period=grace_s,
            heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=3),
        )
    except Exception as exc:  # sqlalchemy raises many types; the operator needs the URL and the cause
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise OptimizeError(f"cannot open study storage {redact(url)}: {first}") from None
    if url.startswith("sqlite"):
        _sqlite_wal(storage)
    return storage


def _sqlite_wal(storage: RDBStorage) -> None:
    """WAL + synchronous=NORMAL: a trial costs about twenty small commits, and with the default
    rollback journal each one waits for the disk. WAL keeps every committed trial across a killed
    process (only an OS crash may lose the last commits); it needs a local disk, not NFS."""
    import sqlalchemy

    def pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    sqlalchemy.event.listen(storage.engine, "connect", pragmas)
    storage.engine.dispose()  # connections opened before the listener get the pragmas on reopen


class DriverStorage(_CachedStorage):
    """The storage a driver's studies use: Optuna's own cache of an RDB storage (what `create_study`
    wraps an `RDBStorage` in anyway) plus three shortcuts for the round trips a driver makes per trial.

    - Trials this process is running are read from a local copy that every write of this process
      updates (write-through: each write still goes to the database first, which refuses writes to a
      trial another process has finished), instead of being loaded again with their parameters and
      attributes (about six statements) by each `Trial`, `set_constraint` and `tell`.
    - `study.ask()` looks for queued trials by loading every unfinished trial; a count answers first
      when none is queued (the usual case).
    - `count_trials`: trials per state from one aggregate query, for the driver's budget checks.

    - `one_read`: while one trial's parameters are sampled, the study's trials are read once. TPE
      (with `constant_liar`, Optuna's default) reads every trial, running ones included, once per
      parameter; between two parameters of one trial nothing in this process changes any trial but
      the one being sampled, which TPE leaves out of its own history (ADR-286).

    What the sampler sees does not change: a fixed seed gives the same trials and values
    (tests/optimize/test_driver_results.py)."""

    def __init__(self, backend: RDBStorage) -> None:
        super().__init__(backend)
        self.rdb = backend
        self._running: dict[int, FrozenTrial | None] = {}  # this process's running trials (None: unread)
        self._read_once: int | None = None  # the study whose trials `one_read` keeps, while it runs
        self._snapshot: list[FrozenTrial] | None = None

    @contextlib.contextmanager
    def one_read(self, study_id: int) -> Iterator[None]:
        """Within the block, every read of the study's trials answers from the block's first read."""
        self._read_once, self._snapshot = study_id, None
        try:
            yield
        finally:
            self._read_once, self._snapshot = None, None

    def count_trials(self, study_id: int, below: int | None = None) -> dict[TrialState, int]:
        """Trials of the study per state (only those numbered below `below` when given)."""
        import sqlalchemy

        sql = "SELECT state, COUNT(*) FROM trials WHERE study_id = :study"
        bind: dict[str, int] = {"study": study_id}
        if below is not None:
            sql += " AND number < :below"
            bind["below"] = below
        with self.rdb.engine.connect() as conn:
            rows = conn.execute(sqlalchemy.text(sql + " GROUP BY state"), bind).all()
        return {TrialState[str(state)]: int(n) for state, n in rows}

    def beat_orphans(self, study_id: int, older_than_s: float) -> list[int]:
        """Give a first heartbeat to RUNNING trials that never got one and started more than
        `older_than_s` ago; returns their ids.

        A driver killed between creating a trial and recording its first heartbeat leaves a RUNNING
        trial that Optuna's stale check never fails (it only looks at trials with a heartbeat), so a
        rerun would wait for it forever. With this beat it goes stale `--grace` seconds later like any
        other orphan, and its parameters are queued again. A live driver records its first heartbeat
        right after creating the trial (it then finds the row and updates it)."""
        import datetime as dt

        import sqlalchemy

        sql = (
            "SELECT t.trial_id, t.datetime_start FROM trials t LEFT JOIN trial_heartbeats h "
            "ON h.trial_id = t.trial_id WHERE t.study_id = :study AND t.state = 'RUNNING' "
            "AND h.trial_id IS NULL"
        )
        with self.rdb.engine.connect() as conn:
            rows = conn.execute(sqlalchemy.text(sql), {"study": study_id}).all()
        cutoff = dt.datetime.now() - dt.timedelta(seconds=older_than_s)  # Optuna's datetime_start clock
        orphans = []
        for trial_id, started in rows:
            start = dt.datetime.fromisoformat(started) if isinstance(started, str) else started
            if start is not None and start.replace(tzinfo=None) < cutoff:
                self.rdb.record_heartbeat(int(trial_id))
                orphans.append(int(trial_id))
        if orphans:
            log.warning("optimize_orphans_without_heartbeat trial_ids=%s: a driver died before their first "
                        "heartbeat; they are retried after --grace", orphans)
        return orphans

    def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
        trial_id = super().create_new_trial(study_id, template_trial)
        if template_trial is None or template_trial.state == TrialState.RUNNING:  # (not a queued copy)
            self._running[trial_id] = self._just_created(trial_id)
        return trial_id

    def _just_created(self, trial_id: int) -> FrozenTrial | None:
        """The trial as the database returned it on creation (Optuna's cache keeps it), or None (then
        it is read once from the database: also what happens if a later Optuna keeps it elsewhere)."""
        try:
            with self._lock:
                found = self._trial_id_to_study_id_and_number.get(trial_id)
                trial = None if found is None else self._studies[found[0]].trials.get(found[1])
        except (AttributeError, KeyError):
            return None
        return None if trial is None else copy.deepcopy(trial)

    def get_trial(self, trial_id: int) -> FrozenTrial:
        if trial_id not in self._running:
            return super().get_trial(trial_id)
        own = self._running[trial_id]
        if own is None:
            own = self._running[trial_id] = super().get_trial(trial_id)
        return copy.deepcopy(own)  # callers (optuna.Trial) change the copy they get

    def get_all_trials(
        self, study_id: int, deepcopy: bool = True, states: Container[TrialState] | None = None
    ) -> list[FrozenTrial]:
        queued_only = isinstance(states, tuple) and states == (TrialState.WAITING,)
        if queued_only and not self.count_trials(study_id).get(TrialState.WAITING):
            return []
        if self._read_once != study_id:
            return super().get_all_trials(study_id, deepcopy=deepcopy, states=states)
        if self._snapshot is None:
            self._snapshot = super().get_all_trials(study_id, deepcopy=False)
        trials = self._snapshot if states is None else [t for t in self._snapshot if t.state in states]
        return copy.deepcopy(trials) if deepcopy else list(trials)

    def _written(self, trial_id: int, write: Callable[[], None]) -> FrozenTrial | None:
        """Run a write of the database; the copy to update with it (None: not this process's)."""
        try:
            write()
        except Exception:
            self._running.pop(trial_id, None)  # refused (finished elsewhere?): read it from now on
            raise
        return self._running.get(trial_id)

    def set_trial_param(
        self, trial_id: int, param_name: str, param_value_internal: float, distribution: BaseDistribution
    ) -> None:
        write = super().set_trial_param
        own = self._written(trial_id, lambda: write(trial_id, param_name, param_value_internal, distribution))
        if own is not None:
            own.distributions[param_name] = distribution
            own.params[param_name] = distribution.to_external_repr(param_value_internal)

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        write = super().set_trial_user_attr
        own = self._written(trial_id, lambda: write(trial_id, key, value))
        if own is not None:
            own.user_attrs[key] = copy.deepcopy(value)

    def set_trial_system_attr(self, trial_id: int, key: str, value: JSONSerializable) -> None:
        write = super().set_trial_system_attr
        own = self._written(trial_id, lambda: write(trial_id, key, value))
        if own is not None:
            own.system_attrs[key] = copy.deepcopy(value)

    def set_trial_intermediate_value(self, trial_id: int, step: int, intermediate_value: float) -> None:
        write = super().set_trial_intermediate_value
        if self._written(trial_id, lambda: write(trial_id, step, intermediate_value)) is not None:
            self._running[trial_id] = None  # read again when next asked for

    def set_trial_state_values(
        self, trial_id: int, state: TrialState, values: Sequence[float] | None = None
    ) -> bool:
        try:
            changed = super().set_trial_state_values(trial_id, state, values)
        except Exception:
            self._running.pop(trial_id, None)  # finished elsewhere (or unknown): read it from now on
            raise
        if state.is_finished():
            self._running.pop(trial_id, None)
        elif state == TrialState.RUNNING and changed:  # a queued trial this process took
            self._running[trial_id] = None
        return changed


def redact(url: str) -> str:
    """A storage URL without its password (never printed, logged or stored)."""
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if not at or ":" not in creds:
        return url
    return f"{scheme}{sep}{creds.split(':', 1)[0]}:***@{host}"


def fingerprint(space: Space, job: TrialJob) -> str:
    """What a study was created with: a rerun must search the same thing on the same data."""
    doc = {
        "params": [repr(p) for p in space.params],
        "objectives": list(space.objectives),
        "constraints": space.constraints,
        "config": job.config_text,
        "env": sorted(job.env),
        "data": list(job.data.paths),
        "rules": job.data.rules_path,
        "symbol": job.data.symbol,
        "funding": list(job.data.funding_paths),
        "window": job.window,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


def make_sampler(space: Space) -> optuna.samplers.BaseSampler:
    """Constraints reach the sampler through each trial's `set_constraint` values."""
    if space.sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=space.seed)
    return optuna.samplers.TPESampler(seed=space.seed)


def suggest(trial: Trial, space: Space) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in space.params:
        if p.choices:
            out[p.name] = trial.suggest_categorical(p.name, list(p.choices))
        elif p.is_int:
            assert isinstance(p.low, int) and isinstance(p.high, int)
            out[p.name] = trial.suggest_int(p.name, p.low, p.high, step=int(p.step or 1), log=p.log)
        else:
            assert p.low is not None and p.high is not None
            out[p.name] = trial.suggest_float(
                p.name, float(p.low), float(p.high), step=None if p.step is None else float(p.step), log=p.log
            )
    return out


@dataclass(slots=True)
class Progress:
    """What one driver did, for its summary line and for tests."""

    told: int = 0
    surplus: int = 0
    requeued: int = 0
    taken_over: int = 0  # failed by another driver's stale check while running here; result dropped


ProgressFn = Callable[[int, int], None]  # (complete trials in the study, target)


class TrialHeartbeat:
    """Records the heartbeat of the trials a driver has not finished, from a thread of its own.

    In the driver's loop a heartbeat could wait behind a blocking Dask call (the result of a trial
    whose worker died is computed again before `result()` returns); other drivers would then fail this
    driver's running trials as stale after --grace seconds and run them again. Optuna's own `optimize`
    keeps its heartbeat in a thread for the same reason."""

    def __init__(self, storage: RDBStorage, interval_s: float) -> None:
        self._storage = storage
        self._interval_s = interval_s
        self._trial_ids: tuple[int, ...] = ()  # replaced whole by the driver's thread, read by this one
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="grinder-optimize-heartbeat", daemon=True)
        self.beats = 0

    def track(self, trials: Iterable[Trial]) -> None:
        self._trial_ids = tuple(t._trial_id for t in trials)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval_s):
            for trial_id in self._trial_ids:
                try:
                    self._storage.record_heartbeat(trial_id)
                    self.beats += 1
                except Exception as exc:  # the database is away: the next beat tries again
                    log.warning("optimize_heartbeat_failed trial_id=%d error=%s", trial_id,
                                type(exc).__name__)


class StudyDriver:
    """Runs studies on `client`'s cluster with trials stored in `storage`."""

    def __init__(self, client: Client, storage: RDBStorage, *, on_progress: ProgressFn | None = None) -> None:
        self.client = client
        self.storage = storage
        self.studies = DriverStorage(storage)  # what the studies read and write through
        self.heartbeat_s = float(storage.get_heartbeat_interval() or 5)
        self.on_progress = on_progress
        self.driver_id = f"{socket.gethostname()}:{os.getpid()}"

    def open(self, name: str, space: Space, job: TrialJob) -> optuna.Study:
        study = optuna.create_study(
            study_name=name,
            storage=self.studies,
            directions=space.directions,  # type: ignore[arg-type]  # validated names
            sampler=make_sampler(space),
            load_if_exists=True,
        )
        if [d.name.lower() for d in study.directions] != space.directions:
            raise OptimizeError(
                f"study {name!r} exists with objectives in directions "
                f"{[d.name.lower() for d in study.directions]}; use another --study name for this space"
            )
        mark = fingerprint(space, job)
        found = study.user_attrs.get(FINGERPRINT_ATTR)
        if found is None:
            study.set_user_attr(FINGERPRINT_ATTR, mark)
        elif found != mark:
            raise OptimizeError(
                f"study {name!r} was created with another space, config or data; continuing it would mix "
                "results: use another --study name (or the original inputs)"
            )
        return study

    def _threads(self) -> int:
        """Worker threads of the cluster. The driver keeps one more trial asked than that, so a worker
        that frees up finds its next trial ready instead of waiting for this driver to tell and ask."""
        threads: dict[str, int] = self.client.nthreads()
        return sum(threads.values())

    def _release(
        self, held: list[Trial], inflight: dict[Future[Any], Trial], busy: int, threads: int, job: TrialJob
    ) -> None:
        """Give the held trial to Dask once fewer than `threads` trials are running (`busy`).

        With two or more worker threads the spare trial stays here rather than in Dask: Dask would
        put it in one busy worker's queue at once, and when another worker finished first, that worker
        would idle until this driver had told its result and asked again (about a fifth of a trial of
        4,000 events), with a trial waiting elsewhere. Held here, it goes to whichever worker frees
        up first, right after the completion is seen, before the tell. With one thread Dask's own
        queue is the better place (no gap at all), so nothing is held."""
        while held and busy < max(threads, 1):
            trial = held.pop()
            inflight[self._submit(trial, job)] = trial
            busy += 1

    def _ask(
        self, study: optuna.Study, study_id: int, space: Space, n_trials: int, progress: Progress
    ) -> Trial | None:
        counts = self.studies.count_trials(study_id)
        if sum(counts.get(s, 0) for s in ACTIVE) >= n_trials and not counts.get(TrialState.WAITING):
            return None  # (a queued retry is always taken: ask() hands it out before sampling)
        trial = study.ask()
        self.storage.record_heartbeat(trial._trial_id)
        earlier = self.studies.count_trials(study_id, below=trial.number)
        if sum(earlier.get(s, 0) for s in ACTIVE) >= n_trials:  # another driver took the last slot first
            trial.set_user_attr("surplus", True)
            study.tell(trial, state=TrialState.FAIL)
            progress.surplus += 1
            return None
        with self.studies.one_read(study_id):
            suggest(trial, space)
        return trial

    def _submit(self, trial: Trial, job: TrialJob) -> Future[Any]:
        params = tuple(sorted(trial.params.items()))
        return self.client.submit(
            run_trial,
            replace(job, params=params),
            key=f"grinder-trial-{trial.study.study_name}-{trial.number}-{self.driver_id}-{time.time_ns()}",
            pure=False,
        )

    @staticmethod
    def _result(fut: Future[Any]) -> dict[str, Any] | None:
        """The trial's figures, or None when the task's result did not survive (a worker died)."""
        if fut.status != "finished":
            return None
        try:
            figures: dict[str, Any] = fut.result()
        except (CancelledError, OSError, KeyError):
            return None
        return figures

    def _tell(
        self, study: optuna.Study, space: Space, trial: Trial, figures: dict[str, Any], progress: Progress
    ) -> None:
        """Store a finished trial's figures and values. When the database refuses them because
        another driver had already failed the trial as stale (this driver missed its heartbeats for
        longer than --grace, e.g. blocked on a lost worker's result), the result is dropped, not told
        twice: that driver queued the trial's parameters again when it failed it."""
        try:
            trial.set_user_attr(FIGURES_ATTR, {**figures, "driver": self.driver_id})
            for key, value in space.violations(figures).items():
                trial.set_constraint(key, value)
            study.tell(trial, space.objective_values(figures))
        except UpdateFinishedTrialError:
            self._taken_over(study, trial, progress)
            return
        progress.told += 1

    @staticmethod
    def _taken_over(study: optuna.Study, trial: Trial, progress: Progress) -> None:
        progress.taken_over += 1
        log.warning(
            "optimize_trial_taken_over study=%s trial=%d: another driver failed it as stale while it ran "
            "here and queued its parameters again; this run's result is dropped (raise --grace if this "
            "repeats)", study.study_name, trial.number,
        )

    def _fill(
        self,
        study: optuna.Study,
        study_id: int,
        space: Space,
        job: TrialJob,
        n_trials: int,
        progress: Progress,
        inflight: dict[Future[Any], Trial],
        held: list[Trial],
        threads: int,
    ) -> None:
        """Ask until this driver has one trial more than the cluster has worker threads."""
        while len(inflight) + len(held) < threads + 1:
            asked = self._ask(study, study_id, space, n_trials, progress)
            if asked is None:
                return
            if threads >= 2 and len(inflight) >= threads:
                held.append(asked)
            else:
                inflight[self._submit(asked, job)] = asked

    def _abandon(
        self, study: optuna.Study, inflight: dict[Future[Any], Trial], held: list[Trial], progress: Progress
    ) -> None:
        """Trials this driver cannot finish: FAIL them and queue their parameters again."""
        for fut in inflight:
            fut.cancel()
        for trial in [*inflight.values(), *held]:
            # FAIL first, queue second, as Optuna's stale check does: the database refuses the FAIL of
            # a trial another driver has already failed (and queued again), so exactly one of the two
            # queues its parameters. Queueing first would leave a second copy whenever the other
            # driver failed it in between (ADR-298).
            try:
                study.tell(trial, state=TrialState.FAIL)
            except UpdateFinishedTrialError:
                self._taken_over(study, trial, progress)
                continue
            study.enqueue_trial(trial.params)
            progress.requeued += 1
        inflight.clear()
        held.clear()

    def run(self, name: str, space: Space, job: TrialJob, n_trials: int) -> tuple[optuna.Study, Progress]:
        """Run study `name` until it holds `n_trials` complete trials (this and other drivers)."""
        study = self.open(name, space, job)
        study_id = self.studies.get_study_id_from_name(name)
        progress = Progress()
        inflight: dict[Future[Any], Trial] = {}
        held: list[Trial] = []  # asked, not yet given to Dask (at most one; see _release)
        resubmits: dict[int, int] = {}
        last_beat, threads = 0.0, 0
        beat = TrialHeartbeat(self.storage, self.heartbeat_s)
        beat.start()
        try:
            while True:
                beat.track([*inflight.values(), *held])
                now = time.monotonic()
                if now - last_beat >= self.heartbeat_s:
                    grace_s = float(self.storage.grace_period or 2 * self.heartbeat_s)
                    self.studies.beat_orphans(study_id, 2 * grace_s)
                    fail_stale_trials(study)
                    threads = self._threads()  # (a scheduler round trip: workers that join or leave
                    last_beat = now  # are seen within one heartbeat, not asked for at every trial)
                self._release(held, inflight, len(inflight), threads, job)
                self._fill(study, study_id, space, job, n_trials, progress, inflight, held, threads)
                complete = self.studies.count_trials(study_id).get(TrialState.COMPLETE, 0)
                if self.on_progress is not None:
                    self.on_progress(complete, n_trials)
                if not inflight:
                    if complete >= n_trials:
                        break
                    # other drivers' trials are running (or went stale and will be queued again)
                    time.sleep(min(1.0, self.heartbeat_s))
                    continue
                try:
                    done = wait(list(inflight), timeout=self.heartbeat_s, return_when="FIRST_COMPLETED").done
                except TimeoutError:
                    continue
                self._release(held, inflight, len(inflight) - len(done), threads, job)  # before the tells
                for fut in done:
                    trial = inflight.pop(fut)
                    if fut.status == "error":
                        exc = fut.exception()
                        trial.set_user_attr("error", f"{type(exc).__name__}: {exc}"[:500])
                        study.tell(trial, state=TrialState.FAIL)
                        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                        raise OptimizeError(f"trial {trial.number} of study {name!r} failed: {first}")
                    figures = self._result(fut)
                    if figures is None:  # lost with its worker after finishing, or cancelled: run it again
                        resubmits[trial.number] = resubmits.get(trial.number, 0) + 1
                        if resubmits[trial.number] > MAX_RESUBMITS:
                            study.tell(trial, state=TrialState.FAIL)
                            raise OptimizeError(
                                f"trial {trial.number} of study {name!r} was lost {MAX_RESUBMITS} times "
                                f"(last state {fut.status}); check the Dask workers' logs"
                            )
                        inflight[self._submit(trial, job)] = trial
                        continue
                    self._tell(study, space, trial, figures, progress)
        except BaseException:
            self._abandon(study, inflight, held, progress)
            raise
        finally:
            beat.stop()
        return study, progress
