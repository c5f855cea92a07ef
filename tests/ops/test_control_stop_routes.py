"""The stop routes of the ops server (issue 12): /control/cancel-all and /control/reset-trip are
token-protected like the other control actions and reach the engine's hooks with the reason."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp
import pytest

from grinder.ops.config import OpsConfig
from grinder.ops.server import OpsServer
from tests.ops.test_server import RecordingHooks

pytestmark = pytest.mark.integration
TOKEN = "stop-routes-token-value"


class StopHooks(RecordingHooks):
    async def cancel_all(self, reason: str) -> Mapping[str, Any]:
        self.calls.append(("cancel_all", reason))
        return {"accepted": 2, "clean": True}

    async def reset_trip(self, reason: str) -> Mapping[str, Any]:
        self.calls.append(("reset_trip", reason))
        return {"reset": True}


@pytest.mark.parametrize(("path", "call"), [("/control/cancel-all", "cancel_all"), ("/control/reset-trip", "reset_trip")])
async def test_stop_routes_need_the_token_and_reach_the_engine(path: str, call: str) -> None:
    hooks = StopHooks()
    server = OpsServer(OpsConfig(port=0), hooks, env={"GRINDER_CONTROL_TOKEN": TOKEN})
    await server.start()
    try:
        async with aiohttp.ClientSession(base_url=server.url) as session:
            async with session.post(path) as resp:
                assert resp.status == 401
            async with session.post(path, headers={"Authorization": "Bearer wrong"}) as resp:
                assert resp.status == 403
            assert hooks.calls == []
            async with session.post(path, headers={"Authorization": f"Bearer {TOKEN}"},
                                    json={"reason": "rollback"}) as resp:
                assert resp.status == 200
                assert (await resp.json())["clean" if call == "cancel_all" else "reset"] is True
        assert hooks.calls == [(call, "rollback")]
    finally:
        await server.stop()
