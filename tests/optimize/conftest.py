"""Real servers for the optimiser's tests, each on a free loopback port and stopped afterwards:
a PostgreSQL cluster (initdb + pg_ctl into a temp dir) and a Dask scheduler with worker processes."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from tests.fixtures.paths import REPO_DIR

from grinder.optimize.demo import write_demo

SPACE = """\
[study]
name = "t"
sampler = "tpe"
objectives = ["net_pnl", "max_drawdown"]
seed = 3

[constraints]
max_position_qty = 0.02

[params.grid]
spacing_bps = { low = 2.0, high = 30.0, log = true }
levels = { low = 1, high = 5 }
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_DIR / "src"), str(REPO_DIR)])
    env.pop("GRINDER_OPTIMIZE_STORAGE", None)
    return env


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 15) -> None:
    """Stop a child started in its own process group (it and anything it spawned)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@dataclass
class Inputs:
    """A tiny research set: two generated days, a base config and a search space."""

    root: Path
    data: Path
    config: Path
    space: Path

    def args(self, storage: str, trials: int, *extra: str) -> list[str]:
        return [
            sys.executable, "-m", "grinder.cli", "optimize",
            "--config", str(self.config), "--space", str(self.space), "--data", str(self.data),
            "--storage", storage, "--trials", str(trials), "--heartbeat", "1", "--grace", "3", "--quiet",
            *extra,
        ]  # fmt: skip


@pytest.fixture(scope="session")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Inputs:
    root = tmp_path_factory.mktemp("research")
    data = write_demo(root, days=2, quotes=400, trades=150, seed=11)
    space = root / "space.toml"
    space.write_text(SPACE, encoding="utf-8")
    return Inputs(root, data, root / "base.toml", space)


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """A throw-away PostgreSQL on 127.0.0.1:<free port>; yields a SQLAlchemy URL for psycopg 3."""
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL binaries absent (/usr/lib/postgresql/*/bin): scripts/test.sh installs them")
    root = Path(tempfile.mkdtemp(prefix="grinder-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: run the server as the postgres account
        shutil.chown(root, "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    pgdata = root / "data"
    try:
        subprocess.run(
            [
                *run_as,
                str(bindir / "initdb"),
                "-D",
                str(pgdata),
                "-U",
                "grinder",
                "--auth=trust",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
        )
        opts = f"-p {port} -c listen_addresses=127.0.0.1 -k {root} -c fsync=off -c max_connections=200"
        subprocess.run(
            [
                *run_as,
                str(bindir / "pg_ctl"),
                "-D",
                str(pgdata),
                "-o",
                opts,
                "-l",
                str(root / "log"),
                "-w",
                "start",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        subprocess.run(
            [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "grinder", "optuna"],
            check=True,
            capture_output=True,
        )
        yield f"postgresql://grinder@127.0.0.1:{port}/optuna"
    finally:
        subprocess.run(
            [*run_as, str(bindir / "pg_ctl"), "-D", str(pgdata), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class DaskCluster:
    """`dask scheduler` and `dask worker` processes on loopback (workers without a nanny, so a
    killed worker stays dead)."""

    address: str
    scheduler: subprocess.Popen[bytes]
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def n_workers(self) -> int:
        from distributed import Client

        with Client(self.address, timeout="10s") as c:
            return len(c.scheduler_info(n_workers=-1)["workers"])


def _spawn(cmd: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=child_env(), start_new_session=True
        )


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


@pytest.fixture
def dask_cluster(tmp_path: Path) -> Iterator[DaskCluster]:
    port = free_port()
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    sched = _spawn(
        [*dask, "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"], tmp_path / "scheduler.log"
    )
    cluster = DaskCluster(f"tcp://127.0.0.1:{port}", sched)
    try:
        worker = [sys.executable, "-m", "distributed.cli.dask_worker", cluster.address, "--host", "127.0.0.1"]
        for i in range(2):
            opts = ["--nthreads", "1", "--no-nanny", "--no-dashboard", "--name", f"w{i}"]
            cluster.workers.append(_spawn([*worker, *opts], tmp_path / f"worker{i}.log"))
        wait_for(lambda: _safe_count(cluster) == 2, 60, "two Dask workers to join the scheduler")
        yield cluster
    finally:
        for w in cluster.workers:
            stop(w)
        stop(sched)


def _safe_count(cluster: DaskCluster) -> int:
    try:
        return cluster.n_workers()
    except OSError:
        return 0
