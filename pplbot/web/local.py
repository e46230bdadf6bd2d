"""The moderators' page for `pplbot chat`: started on loopback the first time `kb web` is typed."""

from __future__ import annotations

import asyncio
import logging
import threading

from aiohttp import web

from pplbot.config import Settings
from pplbot.moderation.live import LiveKnowledge
from pplbot.service import Service
from pplbot.web.pages import KeepsValues
from pplbot.web.server import AdminSite

__all__ = ["LocalWeb"]

logger = logging.getLogger(__name__)


class LocalWeb:
    """Serves /admin from a background thread; `link()` starts it on first use."""

    def __init__(self, service: Service, live: LiveKnowledge, store: KeepsValues, settings: Settings) -> None:
        self.service, self.live, self.store, self.settings = service, live, store, settings
        self.site: AdminSite | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    def install(self) -> None:
        if self.service.moderation is not None:
            self.service.moderation.web_link = self.link

    def link(self, who: str, network: str) -> str:
        if self.site is None:
            self._start()
        assert self.site is not None
        return self.site.link(who, network)

    def _start(self) -> None:
        listen = self.settings.http_listen or "127.0.0.1:0"
        host, _, port = listen.rpartition(":")
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        app = web.Application()

        async def start() -> None:
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, host or "127.0.0.1", int(port))
            await site.start()

        def serve() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(start())
            ready.set()
            try:
                self._loop.run_forever()
            finally:
                self._loop.close()

        # routes are added before the app starts; the base URL needs the bound port, so bind first
        self.site = AdminSite.from_settings(self.service, self.live, self.store, self.settings, "http://pending")
        self.site.add_routes(app)
        self._thread = threading.Thread(target=serve, name="pplbot-web", daemon=True)
        self._thread.start()
        ready.wait(10)
        assert self._runner is not None
        addresses = self._runner.addresses
        bound = addresses[0][1] if addresses else port
        if not self.settings.web_base_url:
            self.site.base_url = f"http://{host or '127.0.0.1'}:{bound}"
        self.site.warm()
        logger.info("moderators' page on %s/admin", self.site.base_url)

    def close(self) -> None:
        if self._loop is None or self._runner is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
        future.result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(5)
