"""A real Prometheus server for the ops tests: temp dir, loopback, 1 s scrape and rule evaluation."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import yaml

from tests.live.procs import free_port

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"

# Metric names a PromQL expression may use without the engine exporting them (Prometheus makes `up`).
SYNTHETIC = frozenset({"up"})
_NAME = re.compile(r"\b((?:grinder|process|python)_[a-z0-9_]+)\b")


def prometheus_binary() -> str | None:
    return shutil.which("prometheus")


def metric_names_in(expr: str) -> set[str]:
    """Metric names used in a PromQL expression (GRINDER's, the process collector's, and `up`)."""
    names = set(_NAME.findall(expr))
    if re.search(r"\bup\s*[{\[]", expr):
        names.add("up")
    return names


def exported_names(scrape: str) -> set[str]:
    """Every series name a scrape can hold: sample names plus _bucket/_sum/_count of declared histograms."""
    names: set[str] = set(SYNTHETIC)
    for line in scrape.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            names.add(name)
            if kind in ("histogram", "summary"):
                names.update({f"{name}_bucket", f"{name}_sum", f"{name}_count"})
            if kind == "counter" and not name.endswith("_total"):
                names.add(f"{name}_total")
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def alert_rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [rule for group in doc["groups"] for rule in group["rules"]]


class PrometheusProcess:
    """`prometheus` scraping `targets` every second and evaluating `rules_file` every second."""

    def __init__(self, workdir: Path, targets: list[str], rules_file: Path) -> None:
        binary = prometheus_binary()
        assert binary is not None
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
            "rule_files": [str(rules_file)],
            "scrape_configs": [{"job_name": "grinder", "static_configs": [{"targets": targets}]}],
        }
        cfg = workdir / "prometheus.yml"
        cfg.write_text(yaml.safe_dump(config), encoding="utf-8")
        self.log_path = workdir / "prometheus.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [binary, f"--config.file={cfg}", f"--storage.tsdb.path={workdir / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self._log, stderr=subprocess.STDOUT,
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def wait_for(cond: Any, timeout: float, what: str, interval: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
