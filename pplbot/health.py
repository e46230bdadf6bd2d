"""Optional HTTP listener (PPLBOT_HTTP_LISTEN): /healthz for orchestrators, /metrics for Prometheus,
and the moderators' page under /admin (pplbot/web)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from aiohttp import web

from pplbot.moderation.live import LiveKnowledge
from pplbot.service import Service

if TYPE_CHECKING:
    from pplbot.web.server import AdminSite

__all__ = ["HealthServer"]

logger = logging.getLogger(__name__)


class HasState(Protocol):
    state: str


class HealthServer:
    def __init__(
        self,
        listen: str,
        service: Service,
        live: LiveKnowledge,
        networks: Mapping[str, HasState],
        admin: AdminSite | None = None,
    ) -> None:
        host, _, port = listen.rpartition(":")
        self.host = host or "127.0.0.1"
        self.port = int(port)
        self.service = service
        self.live = live
        self.networks = networks
        self.admin = admin
        self._runner: web.AppRunner | None = None

    def status(self) -> tuple[int, dict[str, object]]:
        states = {name: t.state for name, t in self.networks.items()}
        up = all(state == "connected" for state in states.values())
        kb = self.live.current.kb
        body: dict[str, object] = {
            "status": "ok" if up else "degraded",
            "networks": states,
            "knowledge": {
                "version": kb.version,
                "entries": len(kb.entries),
                "last_reload_ok": self.live.last_error is None,
            },
        }
        return (200 if up else 503), body

    async def healthz(self, request: web.Request) -> web.Response:
        code, body = self.status()
        return web.json_response(body, status=code)

    async def metrics(self, request: web.Request) -> web.Response:
        self.service.metrics.reload_failures = self.live.reload_failures
        text = self.service.metrics.render({"pplbot_knowledge_entries": len(self.live.current.kb.entries)})
        up = "".join(
            f'pplbot_network_up{{network="{name}"}} {1 if t.state == "connected" else 0}\n'
            for name, t in sorted(self.networks.items())
        )
        body = text + "# HELP pplbot_network_up 1 when the network is connected.\n# TYPE pplbot_network_up gauge\n" + up
        return web.Response(
            text=body, content_type="text/plain", charset="utf-8", headers={"X-Content-Type": "version=0.0.4"}
        )

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics)
        if self.admin is not None:
            self.admin.add_routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        logger.info("health and metrics on http://%s:%d/healthz and /metrics", self.host, self.port)
        if self.admin is not None:
            logger.info("moderators' page on %s/admin (sign in with kb web)", self.admin.base_url)
            await asyncio.to_thread(self.admin.warm)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def run(self, stop: asyncio.Event) -> None:
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()
