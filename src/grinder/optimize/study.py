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

import hashlib
import json
import logging
import os
import socket
import time
import warnings
from collections.abc import Callable
from concurrent.futures import CancelledError
from dataclasses import dataclass, replace
from typing import Any

import optuna
from distributed import Client, Future, wait
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback, fail_stale_trials
from optuna.trial import Trial, TrialState

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


ProgressFn = Callable[[int, int], None]  # (complete trials in the study, target)


class StudyDriver:
    """Runs studies on `client`'s cluster with trials stored in `storage`."""

    def __init__(self, client: Client, storage: RDBStorage, *, on_progress: ProgressFn | None = None) -> None:
        self.client = client
        self.storage = storage
        self.heartbeat_s = float(storage.get_heartbeat_interval() or 5)
        self.on_progress = on_progress
        self.driver_id = f"{socket.gethostname()}:{os.getpid()}"

    def open(self, name: str, space: Space, job: TrialJob) -> optuna.Study:
        study = optuna.create_study(
            study_name=name,
            storage=self.storage,
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

    def _capacity(self) -> int:
        """Worker threads plus one queued trial, so no worker idles while this driver tells and asks."""
        threads: dict[str, int] = self.client.nthreads()
        return sum(threads.values()) + 1

    def _ask(self, study: optuna.Study, space: Space, n_trials: int, progress: Progress) -> Trial | None:
        active = study.get_trials(deepcopy=False, states=ACTIVE)
        if len(active) >= n_trials and not any(t.state == TrialState.WAITING for t in active):
            return None  # (a queued retry is always taken: ask() hands it out before sampling)
        trial = study.ask()
        self.storage.record_heartbeat(trial._trial_id)
        earlier = [t for t in study.get_trials(deepcopy=False, states=ACTIVE) if t.number < trial.number]
        if len(earlier) >= n_trials:  # another driver took the last slot first
            trial.set_user_attr("surplus", True)
            study.tell(trial, state=TrialState.FAIL)
            progress.surplus += 1
            return None
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

    def _tell(self, study: optuna.Study, space: Space, trial: Trial, figures: dict[str, Any]) -> None:
        trial.set_user_attr(FIGURES_ATTR, {**figures, "driver": self.driver_id})
        for key, value in space.violations(figures).items():
            trial.set_constraint(key, value)
        study.tell(trial, space.objective_values(figures))

    def _abandon(self, study: optuna.Study, inflight: dict[Future[Any], Trial], progress: Progress) -> None:
        """Trials this driver cannot finish: FAIL them and queue their parameters again."""
        for fut, trial in inflight.items():
            fut.cancel()
            study.enqueue_trial(trial.params)
            study.tell(trial, state=TrialState.FAIL)
            progress.requeued += 1
        inflight.clear()

    def run(self, name: str, space: Space, job: TrialJob, n_trials: int) -> tuple[optuna.Study, Progress]:
        """Run study `name` until it holds `n_trials` complete trials (this and other drivers)."""
        study = self.open(name, space, job)
        progress = Progress()
        inflight: dict[Future[Any], Trial] = {}
        resubmits: dict[int, int] = {}
        last_beat = 0.0
        try:
            while True:
                now = time.monotonic()
                if now - last_beat >= self.heartbeat_s:
                    for trial in inflight.values():
                        self.storage.record_heartbeat(trial._trial_id)
                    fail_stale_trials(study)
                    last_beat = now
                while len(inflight) < self._capacity():
                    asked = self._ask(study, space, n_trials, progress)
                    if asked is None:
                        break
                    inflight[self._submit(asked, job)] = asked
                complete = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
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
                for fut in done:
                    trial = inflight.pop(fut)
                    if fut.status == "error":
                        exc = fut.exception()
                        trial.set_user_attr("error", f"{type(exc).__name__}: {exc}"[:500])
                        study.tell(trial, state=TrialState.FAIL)
                        raise OptimizeError(f"trial {trial.number} of study {name!r} failed: {exc}")
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
                    self._tell(study, space, trial, figures)
                    progress.told += 1
        except BaseException:
            self._abandon(study, inflight, progress)
            raise
        return study, progress
