"""deploy/: compose, Dockerfile, Prometheus config and systemd units validated with the tools at hand.

Parse and schema checks always run; `promtool check config`, `systemd-analyze verify` and
`docker compose config` run where those tools exist and skip (with the reason) otherwise.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from grinder.config import load_config
from tests.ops.prom import ALERTS, DEPLOY

REPO = DEPLOY.parent
COMPOSE = DEPLOY / "compose.yaml"
SERVICES = {"engine-a", "engine-b", "redis", "prometheus", "grafana"}


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text(encoding="utf-8")))


def test_compose_has_two_engines_redis_prometheus_grafana() -> None:
    doc = compose()
    assert set(doc["services"]) >= SERVICES
    engines = [doc["services"][name] for name in ("engine-a", "engine-b")]
    holders = {e["environment"]["GRINDER_HA_HOLDER_ID"] for e in engines}
    journals = {e["environment"]["GRINDER_STORE_JOURNAL_PATH"] for e in engines}
    assert len(holders) == 2 and len(journals) == 2, "each engine needs its own holder id and journal"
    for engine in engines:
        assert engine["stop_signal"] == "SIGTERM" and engine["build"]["dockerfile"] == "deploy/Dockerfile"
        assert "grinder_read_token" in engine["secrets"]
        # Keys are passed through from the operator's environment, never written here.
        assert all(v.startswith("${") for k, v in engine["environment"].items() if k.startswith("BINANCE_"))


def test_compose_publishes_only_on_loopback_and_mounts_existing_files() -> None:
    doc = compose()
    for name, service in doc["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
        for volume in service.get("volumes", []):
            source = str(volume).split(":", 1)[0]
            if source.startswith("./"):
                assert (DEPLOY / source).exists(), f"{name} mounts missing {source}"
    assert doc["secrets"]["grinder_read_token"]["file"] == "./secrets/read_token"


def test_engine_config_loads_and_is_safe_by_default() -> None:
    cfg = load_config(DEPLOY / "config" / "engine.toml", env={})
    assert cfg.section("connector").mode.value == "READ_ONLY" and cfg.section("connector").armed is False
    assert cfg.section("ha").enabled is True
    assert cfg.section("ops").host == "0.0.0.0"  # so the compose file must give it a read token
    example = load_config(REPO / "examples" / "grinder.toml", env={})
    assert example.section("connector").armed is False and example.section("ops").host == "127.0.0.1"


def test_dockerfile_copies_what_exists_and_runs_unprivileged() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert text.splitlines()[-1].startswith("CMD ") and "\nUSER grinder\n" in text
    for line in re.findall(r"^COPY (.+)$", text, flags=re.M):
        *sources, _dest = line.split()
        for source in sources:
            assert (REPO / source).exists(), f"Dockerfile copies missing {source}"


def test_prometheus_config_scrapes_both_engines_with_the_token() -> None:
    doc = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
    job = doc["scrape_configs"][0]
    assert job["job_name"] == "grinder"
    assert job["authorization"]["credentials_file"] == "/run/secrets/grinder_read_token"
    assert sorted(job["static_configs"][0]["targets"]) == ["engine-a:9090", "engine-b:9090"]


def test_promtool_check_config(tmp_path: Path) -> None:
    tool = shutil.which("promtool")
    if tool is None:
        pytest.skip("promtool is not installed")
    token = tmp_path / "token"
    token.write_text("t")
    text = (DEPLOY / "prometheus" / "prometheus.yml").read_text(encoding="utf-8")
    text = text.replace("/etc/prometheus/alerts.yml", str(ALERTS)).replace("/run/secrets/grinder_read_token",
                                                                          str(token))
    (tmp_path / "prometheus.yml").write_text(text)
    proc = subprocess.run([tool, "check", "config", str(tmp_path / "prometheus.yml")], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_systemd_unit_verifies(tmp_path: Path) -> None:
    unit = (DEPLOY / "systemd" / "grinder@.service").read_text(encoding="utf-8")
    assert "KillSignal=SIGTERM" in unit and "RestartPreventExitStatus=2" in unit
    tool = shutil.which("systemd-analyze")
    grinder = Path(sys.executable).with_name("grinder")
    if tool is None or not grinder.exists():
        pytest.skip("systemd-analyze or the grinder entry point is not available")
    local = tmp_path / "grinder@.service"
    local.write_text(unit.replace("/opt/grinder/.venv/bin/grinder", str(grinder)))
    proc = subprocess.run([tool, "verify", str(local)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr


def test_docker_compose_config(tmp_path: Path) -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("docker is not installed")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        pytest.skip("the docker compose plugin is not installed (docker compose version failed)")
    copy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, copy)
    (copy / "secrets").mkdir(exist_ok=True)
    (copy / "secrets" / "read_token").write_text("t")
    proc = subprocess.run([docker, "compose", "-f", str(copy / "compose.yaml"), "config", "--quiet"],
                          capture_output=True, text=True, timeout=60, env={"GRAFANA_ADMIN_PASSWORD": "x",
                                                                          "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
