"""deploy/prometheus/alerts.yml: valid rules, a passing `promtool test rules` file covering every alert,
and a runbook_url that points at an existing section of an existing runbook."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.ops.prom import ALERTS, DEPLOY, alert_rules

REPO = DEPLOY.parent
ALERTS_TEST = DEPLOY / "prometheus" / "alerts_test.yml"
REQUIRED = {
    "GrinderNoLeader", "GrinderTwoLeaders", "GrinderStaleFeed", "GrinderStreamDisconnected",
    "GrinderReconnectStorm", "GrinderConnectorErrors", "GrinderRejectRatio", "GrinderKillSwitchTripped",
    "GrinderDrawdownNearLimit", "GrinderPositionNearLimit", "GrinderReconcileMismatches",
    "GrinderRateLimitHeadroomLow", "GrinderMemoryGrowth",
}


def _promtool() -> str:
    tool = shutil.which("promtool")
    if tool is None:
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    return tool


def github_anchor(heading: str) -> str:
    """GitHub's heading id: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(markdown: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", markdown.read_text(encoding="utf-8"), flags=re.S)
    return {github_anchor(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.+)$", text, flags=re.M)}


def test_every_required_alert_exists_with_severity_summary_and_runbook() -> None:
    rules = alert_rules()
    names = [r["alert"] for r in rules]
    assert len(names) == len(set(names))
    assert set(names) >= REQUIRED, REQUIRED - set(names)
    for rule in rules:
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda r: r["alert"])
def test_runbook_url_points_at_an_existing_section(rule: dict[str, object]) -> None:
    url = str(rule["annotations"]["runbook_url"])  # type: ignore[index]
    path, _, anchor = url.partition("#")
    doc = REPO / path
    assert doc.is_file(), f"{rule['alert']}: {path} does not exist"
    assert anchor in anchors(doc), f"{rule['alert']}: no section #{anchor} in {path}"


def test_promtool_check_rules() -> None:
    proc = subprocess.run([_promtool(), "check", "rules", str(ALERTS)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_promtool_unit_tests_pass_and_cover_every_alert() -> None:
    doc = yaml.safe_load(ALERTS_TEST.read_text(encoding="utf-8"))
    fired = {case["alertname"] for test in doc["tests"] for case in test["alert_rule_test"]
             if case.get("exp_alerts")}
    assert {r["alert"] for r in alert_rules()} <= fired
    proc = subprocess.run([_promtool(), "test", "rules", str(ALERTS_TEST)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout + proc.stderr
