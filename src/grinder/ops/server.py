"""The ops HTTP server: /healthz, /readyz, /metrics, /status and the token-protected /control/*.

It knows nothing about trading. The engine (or the demo) hands it an `OpsHooks` object that
answers readiness and status and performs the control actions (disarm, kill switch, cancel-all,
reset-trip). Binds 127.0.0.1 by default; /metrics and /status need the read token when one is set,
and a bind outside loopback without one is refused (`check_exposure`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from grinder.ops import metrics
from grinder.ops.config import OpsConfig, check_exposure

log = logging.getLogger(__name__)

ROLES = ("leader", "follower", "standalone")


@dataclass(frozen=True, slots=True)
class Readiness:
    """Whether the process may trade now; `reasons` names every unmet condition."""

    role: str
    ready: bool
    reasons: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role {self.role!r} is not one of {', '.join(ROLES)}")


class OpsHooks(Protocol):
    def readiness(self) -> Readiness: ...

    def status(self) -> Mapping[str, Any]: ...

    async def disarm(self, reason: str) -> Mapping[str, Any]: ...

    async def kill_switch(self, reason: str) -> Mapping[str, Any]: ...

    async def cancel_all(self, reason: str) -> Mapping[str, Any]: ...

    async def reset_trip(self, reason: str) -> Mapping[str, Any]: ...


def _bearer(request: web.Request) -> str | None:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return given if scheme.lower() == "bearer" and given else None


def _json(payload: Any, status: int = 200) -> web.Response:
    text = json.dumps(payload, default=str, separators=(",", ":"))
    return web.Response(text=text, status=status, content_type="application/json")


class OpsServer:
    """aiohttp server on `config.host:config.port`; `port` is the bound port once started."""

    def __init__(
        self,
        config: OpsConfig,
        hooks: OpsHooks,
        *,
        registry: CollectorRegistry = REGISTRY,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.hooks = hooks
        self.registry = registry
        self._env = env
        self._runner: web.AppRunner | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._last_beat = time.monotonic()
        self._lag_s = 0.0
        self.port: int = config.port

    # --------------------------------------------------------------- lifecycle
    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/status", self._status)
        app.router.add_post("/control/disarm", self._control_disarm)
        app.router.add_post("/control/kill-switch", self._control_kill)
        app.router.add_post("/control/cancel-all", self._control_cancel_all)
        app.router.add_post("/control/reset-trip", self._control_reset_trip)
        return app

    async def start(self) -> None:
        check_exposure(self.config, os.environ if self._env is None else self._env)
        self._runner = web.AppRunner(self.build_app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port, reuse_address=True)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        self._heartbeat = asyncio.create_task(self._beat(), name="ops-heartbeat")
        token_state = "enabled" if self._token() else "disabled"
        read_state = "token" if self._read_token() else "open"
        log.info(
            "Ops server listening url=http://%s:%d control=%s token_env=%s read=%s",
            self.config.host, self.port, token_state, self.config.control_token_env, read_state,
        )

    async def stop(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
            self._heartbeat = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    async def _beat(self) -> None:
        """Measure how late the loop wakes us: a blocked loop shows as lag and a stale heartbeat."""
        interval = 0.25
        while True:
            before = time.monotonic()
            await asyncio.sleep(interval)
            now = time.monotonic()
            self._lag_s = max(0.0, now - before - interval)
            self._last_beat = now
            metrics.LOOP_LAG_SECONDS.set(self._lag_s)

    # ---------------------------------------------------------------- handlers
    async def _healthz(self, request: web.Request) -> web.Response:
        age = time.monotonic() - self._last_beat
        ok = age < self.config.loop_stall_s
        body = {"ok": ok, "heartbeat_age_s": round(age, 3), "loop_lag_ms": round(self._lag_s * 1000, 3)}
        return _json(body, 200 if ok else 503)

    async def _readyz(self, request: web.Request) -> web.Response:
        r = self.hooks.readiness()
        body = {"role": r.role, "ready": r.ready, "reasons": list(r.reasons)}
        return _json(body, 200 if r.ready else 503)

    async def _metrics(self, request: web.Request) -> web.Response:
        refused = self._authorize_read(request)
        if refused is not None:
            return refused
        payload = generate_latest(self.registry)
        return web.Response(body=payload, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _status(self, request: web.Request) -> web.Response:
        refused = self._authorize_read(request)
        if refused is not None:
            return refused
        return _json(dict(self.hooks.status()))

    # ----------------------------------------------------------------- control
    def _token(self) -> str:
        env = os.environ if self._env is None else self._env
        return env.get(self.config.control_token_env, "")

    def _read_token(self) -> str:
        env = os.environ if self._env is None else self._env
        return env.get(self.config.read_token_env, "")

    def _authorize_read(self, request: web.Request) -> web.Response | None:
        """/status and /metrics: open without a read token; with one, it (or the control token) is needed."""
        token = self._read_token()
        if not token:
            return None
        given = _bearer(request)
        if given is None:
            return _json({"error": "missing credentials",
                          "fix": f"send 'Authorization: Bearer <{self.config.read_token_env}>'"}, 401)
        if any(t and hmac.compare_digest(given.encode(), t.encode()) for t in (token, self._token())):
            return None
        log.warning("read refused reason=bad_token path=%s peer=%s", request.path, request.remote)
        return _json({"error": "invalid token"}, 403)

    def _authorize(self, request: web.Request) -> web.Response | None:
        token = self._token()
        if not token:
            return _json(
                {
                    "error": "control endpoint disabled",
                    "fix": f"set {self.config.control_token_env} in the engine's environment and restart",
                },
                403,
            )
        given = _bearer(request)
        if given is None:
            return _json({"error": "missing credentials", "fix": "send 'Authorization: Bearer <token>'"}, 401)
        if not hmac.compare_digest(given.encode(), token.encode()):
            log.warning("control refused reason=bad_token path=%s peer=%s", request.path, request.remote)
            return _json({"error": "invalid token"}, 403)
        return None

    async def _reason(self, request: web.Request) -> str:
        if not request.can_read_body:
            return "operator"
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return "operator"
        reason = body.get("reason") if isinstance(body, dict) else None
        return str(reason)[:200] if reason else "operator"

    async def _control_disarm(self, request: web.Request) -> web.Response:
        refused = self._authorize(request)
        if refused is not None:
            return refused
        reason = await self._reason(request)
        log.warning("control disarm reason=%s peer=%s", reason, request.remote)
        return _json(dict(await self.hooks.disarm(reason)))

    async def _control_kill(self, request: web.Request) -> web.Response:
        return await self._control(request, "kill_switch")

    async def _control_cancel_all(self, request: web.Request) -> web.Response:
        """Operator cancel of our resting orders (allowed while disarmed; never places)."""
        return await self._control(request, "cancel_all")

    async def _control_reset_trip(self, request: web.Request) -> web.Response:
        """Clear a loss-limit latch (the only way to, besides a fresh journal)."""
        return await self._control(request, "reset_trip")

    async def _control(self, request: web.Request, action: str) -> web.Response:
        refused = self._authorize(request)
        if refused is not None:
            return refused
        reason = await self._reason(request)
        log.warning("control %s reason=%s peer=%s", action, reason, request.remote)
        return _json(dict(await getattr(self.hooks, action)(reason)))
