"""`/_sim/...`: the loopback control API for fault injection and market stepping (not a Binance path).

GET/POST/DELETE /_sim/faults, POST /_sim/actions/{drop_ws,stall_ws,expire_listen_key,step} (stall_ws takes
{"ms": N, "silent": true} to leave pings unanswered too),
GET/POST /_sim/lifecycle (connection lifetime, listenKey validity), GET /_sim/state.
Bodies and answers are JSON; bad input answers 400 naming the problem.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

if TYPE_CHECKING:
    from grinder.sim.server import SimServer


def _json(doc: Any, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(doc), status=status, content_type="application/json")


async def _body(request: web.Request) -> dict[str, Any]:
    text = await request.text()
    if not text.strip():
        return {}
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": f"body is not JSON: {exc}"}), content_type="application/json"
        ) from None
    if not isinstance(doc, dict):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "body must be a JSON object"}), content_type="application/json"
        )
    return doc


def _stall_ws(server: SimServer, body: dict[str, Any]) -> web.Response:
    ms = body.get("ms", server.faults.ws_stall_ms)
    if not isinstance(ms, int) or ms <= 0:
        return _json({"error": 'stall_ws needs {"ms": <positive int>}'}, 400)
    silent = body.get("silent", False)
    if not isinstance(silent, bool):
        return _json({"error": 'stall_ws "silent" must be true or false'}, 400)
    return _json({"stalled": server.control.stall_ws(ms, silent=silent)})


def add_control_routes(app: web.Application, server: SimServer) -> None:
    control = server.control

    async def get_faults(request: web.Request) -> web.Response:
        return _json(server.faults.as_dict())

    async def post_faults(request: web.Request) -> web.Response:
        changes = await _body(request)
        try:
            return _json(control.set_faults(**changes))
        except ValueError as exc:
            return _json({"error": str(exc)}, 400)

    async def delete_faults(request: web.Request) -> web.Response:
        control.clear_faults()
        return _json(server.faults.as_dict())

    async def action(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        body = await _body(request)
        if name == "drop_ws":
            return _json({"dropped": control.drop_ws()})
        if name == "stall_ws":
            return _stall_ws(server, body)
        if name == "expire_listen_key":
            return _json({"expired": len(control.expire_listen_key())})
        if name == "step":
            count = body.get("count", 1)
            if not isinstance(count, int) or count <= 0:
                return _json({"error": 'step needs {"count": <positive int>}'}, 400)
            return _json({"applied": control.step(count)})
        return _json({"error": f"unknown action {name!r}: drop_ws, stall_ws, expire_listen_key, step"}, 404)

    async def state(request: web.Request) -> web.Response:
        books = {}
        for sym, book in server.market.books.items():
            rules = server.rules[sym]
            (bid, bid_q), (ask, ask_q) = book.best_bid, book.best_ask
            books[sym] = {
                "lastUpdateId": book.last_update_id,
                "bid": rules.price_str(bid),
                "bidQty": rules.qty_str(bid_q),
                "ask": rules.price_str(ask),
                "askQty": rules.qty_str(ask_q),
            }
        return _json(
            {
                "serverTime": server.now_ms(),
                "batches": server.driver.batches_applied,
                "marketFinished": server.driver.finished,
                "wsConnections": len(server.hub.conns),
                "restRequests": server.rest.requests,
                "books": books,
            }
        )

    app.router.add_get("/_sim/faults", get_faults)
    app.router.add_post("/_sim/faults", post_faults)
    app.router.add_delete("/_sim/faults", delete_faults)
    app.router.add_post("/_sim/actions/{name}", action)
    _add_lifecycle_routes(app, server)

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/_sim/state", state)
    app.router.add_get("/metrics", metrics)


def _add_lifecycle_routes(app: web.Application, server: SimServer) -> None:
    """`/_sim/lifecycle`: read or shorten the WS connection lifetime and the listenKey validity."""
    control = server.control

    async def get_lifecycle(request: web.Request) -> web.Response:
        return _json(control.lifecycle())

    async def post_lifecycle(request: web.Request) -> web.Response:
        try:
            return _json(control.set_lifecycle(**(await _body(request))))
        except ValueError as exc:
            return _json({"error": str(exc)}, 400)

    app.router.add_get("/_sim/lifecycle", get_lifecycle)
    app.router.add_post("/_sim/lifecycle", post_lifecycle)
