"""The ops HTTP server over a real loopback socket: health, readiness, metrics, status, control auth."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import pytest

from grinder.ops.config import OpsConfig
from grinder.ops.server import OpsServer, Readiness

pytestmark = pytest.mark.integration


class RecordingHooks:
    """A minimal hooks object: records control calls (the server is the unit under test here)."""

    def __init__(self) -> None:
        self.ready = Readiness(role="standalone", ready=False, reasons=("feed BTCUSDT stale",))
        self.calls: list[tuple[str, str]] = []

    def readiness(self) -> Readiness:
        return self.ready

    def status(self) -> Mapping[str, Any]:
        return {"mode": "READ_ONLY", "armed": False, "symbols": {}}

    async def disarm(self, reason: str) -> Mapping[str, Any]:
        self.calls.append(("disarm", reason))
        return {"armed": False}

    async def kill_switch(self, reason: str) -> Mapping[str, Any]:
        self.calls.append(("kill", reason))
        return {"kill_switch": True}


@pytest.fixture
async def served() -> AsyncIterator[tuple[OpsServer, RecordingHooks, aiohttp.ClientSession]]:
    hooks = RecordingHooks()
    server = OpsServer(OpsConfig(port=0), hooks, env={"GRINDER_CONTROL_TOKEN": "s3cret-token-value"})
    await server.start()
    async with aiohttp.ClientSession(base_url=server.url) as session:
        yield server, hooks, session
    await server.stop()


async def test_binds_loopback_by_default() -> None:
    assert OpsConfig().host == "127.0.0.1"
    assert OpsConfig().port == 9090


async def test_healthz_answers_from_the_loop(served: Any) -> None:
    _, _, session = served
    async with session.get("/healthz") as resp:
        assert resp.status == 200
        body = await resp.json()
    assert body["ok"] is True


async def test_readyz_reports_role_and_503_until_ready(served: Any) -> None:
    _, hooks, session = served
    async with session.get("/readyz") as resp:
        assert resp.status == 503
        body = await resp.json()
    assert body == {"role": "standalone", "ready": False, "reasons": ["feed BTCUSDT stale"]}
    hooks.ready = Readiness(role="leader", ready=True)
    async with session.get("/readyz") as resp:
        assert resp.status == 200
        assert (await resp.json())["role"] == "leader"


async def test_metrics_is_prometheus_text(served: Any) -> None:
    _, _, session = served
    async with session.get("/metrics") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain")
        text = await resp.text()
    assert "# TYPE grinder_tick_to_order_seconds histogram" in text
    assert "# TYPE grinder_event_loop_lag_seconds gauge" in text


async def test_status_is_json(served: Any) -> None:
    _, _, session = served
    async with session.get("/status") as resp:
        assert resp.status == 200
        assert (await resp.json())["mode"] == "READ_ONLY"


async def test_control_refused_without_or_with_wrong_token(served: Any) -> None:
    _, hooks, session = served
    async with session.post("/control/disarm") as resp:
        assert resp.status == 401
    async with session.post("/control/kill-switch", headers={"Authorization": "Bearer nope"}) as resp:
        assert resp.status == 403
    assert hooks.calls == []


async def test_control_with_token_calls_the_engine(served: Any) -> None:
    _, hooks, session = served
    auth = {"Authorization": "Bearer s3cret-token-value"}
    async with session.post("/control/disarm", headers=auth, json={"reason": "maintenance"}) as resp:
        assert resp.status == 200
        assert (await resp.json()) == {"armed": False}
    async with session.post("/control/kill-switch", headers=auth) as resp:
        assert resp.status == 200
    assert hooks.calls == [("disarm", "maintenance"), ("kill", "operator")]


async def test_control_disabled_when_no_token_configured() -> None:
    hooks = RecordingHooks()
    server = OpsServer(OpsConfig(port=0), hooks, env={})
    await server.start()
    try:
        async with (
            aiohttp.ClientSession(base_url=server.url) as session,
            session.post("/control/disarm", headers={"Authorization": "Bearer anything"}) as resp,
        ):
            assert resp.status == 403
            body = await resp.json()
        assert "GRINDER_CONTROL_TOKEN" in body["fix"]
        assert hooks.calls == []
    finally:
        await server.stop()


def test_config_rejects_bad_port_with_a_fix() -> None:
    with pytest.raises(ValueError, match=r"ops\.port=70000"):
        OpsConfig(port=70000)


# ------------------------------------------------------------------ read token and bind exposure
READ = "r3ad-token-value"
CONTROL = "s3cret-token-value"


@pytest.fixture
async def guarded() -> AsyncIterator[tuple[OpsServer, aiohttp.ClientSession]]:
    env = {"GRINDER_CONTROL_TOKEN": CONTROL, "GRINDER_READ_TOKEN": READ}
    server = OpsServer(OpsConfig(port=0), RecordingHooks(), env=env)
    await server.start()
    async with aiohttp.ClientSession(base_url=server.url) as session:
        yield server, session
    await server.stop()


@pytest.mark.parametrize("path", ["/metrics", "/status"])
async def test_read_token_guards_metrics_and_status(guarded: Any, path: str) -> None:
    _, session = guarded
    async with session.get(path) as resp:
        assert resp.status == 401
        assert "GRINDER_READ_TOKEN" in (await resp.json())["fix"]
    async with session.get(path, headers={"Authorization": "Bearer wrong-token"}) as resp:
        assert resp.status == 403
    for token in (READ, CONTROL):  # the control token may read too
        async with session.get(path, headers={"Authorization": f"Bearer {token}"}) as resp:
            assert resp.status == 200


async def test_health_probes_stay_open_with_a_read_token(guarded: Any) -> None:
    _, session = guarded
    async with session.get("/healthz") as resp:
        assert resp.status == 200
    async with session.get("/readyz") as resp:
        assert resp.status == 503  # not ready, but answered without credentials


async def test_public_bind_without_read_token_is_refused_naming_the_fix() -> None:
    server = OpsServer(OpsConfig(host="0.0.0.0", port=0), RecordingHooks(), env={"GRINDER_CONTROL_TOKEN": CONTROL})
    with pytest.raises(ValueError, match=r"GRINDER_READ_TOKEN is not set.*allow_public_bind"):
        await server.start()
    assert server.port == 0  # nothing was bound


def test_exposure_rules() -> None:
    from grinder.ops.config import check_exposure, is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.5") and not is_loopback("grinder.example")
    check_exposure(OpsConfig(host="127.0.0.1"), {})
    check_exposure(OpsConfig(host="0.0.0.0"), {"GRINDER_READ_TOKEN": READ})
    check_exposure(OpsConfig(host="0.0.0.0", allow_public_bind=True), {})
    with pytest.raises(ValueError, match=r"ops\.host=10\.0\.0\.5"):
        check_exposure(OpsConfig(host="10.0.0.5"), {})


def test_live_refuses_a_public_bind_before_connecting(tmp_path: Any) -> None:
    import subprocess
    import sys

    from tests.live.procs import child_env

    cfg = tmp_path / "grinder.toml"
    cfg.write_text('[ops]\nhost = "0.0.0.0"\n[binance]\nrest_url = "http://127.0.0.1:9"\n', encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "grinder.cli", "live", "--config", str(cfg)],
                          capture_output=True, text=True, timeout=60, env=child_env())
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "GRINDER_READ_TOKEN" in proc.stderr
