"""Every command block the docs mark `<!-- runnable -->` runs, as written, against the simulator.

A session fixture starts `grinder sim` and a LIVE_TRADE engine trading against it, on free loopback
ports. Blocks run in a scratch copy of the repository (symlinks, so writes stay out of the tree)
beside a `shared` link, so `../shared/...` paths resolve as in a real checkout. The documented
default ports are rewritten to the fixture's: 127.0.0.1:8765 (simulator) and 127.0.0.1:9090 (ops).
The environment carries the simulator's keys and the engine's control token, as an operator's would.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.docs.runnable import REPO, SHELLS, Block, doc_files, fenced_blocks, runnable_blocks
from tests.live.procs import SIM_KEY, SIM_SECRET, SimProcess, child_env, free_port, write_config

pytestmark = [pytest.mark.integration]
SHARED = (REPO / ".." / "shared").resolve()
CONTROL_TOKEN = "doc-test-control-token"


@dataclass
class DocEnv:
    workdir: Path
    sim: SimProcess
    ops_port: int

    def rewrite(self, code: str) -> str:
        sim_port = self.sim.rest_url.rsplit(":", 1)[1]
        return code.replace("127.0.0.1:8765", f"127.0.0.1:{sim_port}").replace(
            "127.0.0.1:9090", f"127.0.0.1:{self.ops_port}")

    def env(self) -> dict[str, str]:
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        return child_env(PATH=path, BINANCE_API_KEY=SIM_KEY, BINANCE_API_SECRET=SIM_SECRET,
                         GRINDER_CONTROL_TOKEN=CONTROL_TOKEN, GRINDER_SHARED=str(SHARED),
                         PYTHONPATH=str(self.workdir / "src"))


def _scratch_checkout(root: Path) -> Path:
    work = root / "grinder"
    work.mkdir()
    for entry in REPO.iterdir():
        if entry.name not in (".git", ".venv", "var", "grinder-demo") and not entry.name.startswith("."):
            (work / entry.name).symlink_to(entry)
    if SHARED.exists():
        (root / "shared").symlink_to(SHARED)
    return work


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="module")
def doc_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocEnv]:
    root = tmp_path_factory.mktemp("docs")
    work = _scratch_checkout(root)
    sim = SimProcess(root / "sim.log", speed=5.0)
    ops_port = free_port()
    cfg = write_config(root / "engine.toml", sim, root / "journal.sqlite3")
    log = open(root / "engine.log", "w")  # noqa: SIM115 - closed below
    engine = subprocess.Popen(
        [sys.executable, "-m", "grinder.live.run", "--config", str(cfg), "--ops-port", str(ops_port)],
        stdout=log, stderr=subprocess.STDOUT,
        env=child_env(BINANCE_API_KEY=SIM_KEY, BINANCE_API_SECRET=SIM_SECRET, GRINDER_CONTROL_TOKEN=CONTROL_TOKEN),
    )
    try:
        import time

        deadline = time.monotonic() + 60
        while not _ready(f"http://127.0.0.1:{ops_port}/readyz"):
            assert engine.poll() is None and time.monotonic() < deadline, (root / "engine.log").read_text()
            time.sleep(0.2)
        yield DocEnv(work, sim, ops_port)
    finally:
        if engine.poll() is None:
            engine.send_signal(signal.SIGTERM)
            try:
                engine.wait(30)
            except subprocess.TimeoutExpired:
                engine.kill()
        log.close()
        sim.stop()


def test_the_docs_mark_runnable_blocks_in_every_area() -> None:
    blocks = runnable_blocks()
    files = {b.path.name for b in blocks}
    assert len(blocks) >= 15, [b.name for b in blocks]
    for must in ("README.md", "configuration.md", "backtest.md", "01_DEPLOYMENT_START.md",
                 "02_HEALTH_TRIAGE.md", "03_KILL_SWITCH_AND_FLATTEN.md", "10_FUTURES_MAINNET_TRADE_SMOKE.md",
                 "17_LIVE_TRADE_CONNECTOR_ENABLEMENT.md"):
        assert must in files, f"{must} has no runnable block"
    total = sum(fenced_blocks(p)[1] for p in doc_files())
    print(f"runnable blocks: {len(blocks)} of {total} shell/python blocks")


@pytest.mark.parametrize("block", runnable_blocks(), ids=lambda b: b.name)
def test_runnable_block(block: Block, doc_env: DocEnv) -> None:
    code = doc_env.rewrite(block.code)
    if block.lang in SHELLS:
        argv = [shutil.which("bash") or "/bin/bash", "-e", "-o", "pipefail", "-c", code]
    else:
        argv = [sys.executable, "-c", code]
    proc = subprocess.run(argv, cwd=doc_env.workdir, env=doc_env.env(), capture_output=True, text=True,
                          timeout=block.timeout_s)
    assert proc.returncode == 0, f"{block.name} exit {proc.returncode}\n--- code\n{code}\n--- stdout\n" \
                                 f"{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}"
