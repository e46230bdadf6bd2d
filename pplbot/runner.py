"""`pplbot run`: every configured network in one process, one knowledge base, one store.

A network that fails is retried with backoff by its own transport without taking the others
down. SIGTERM/SIGINT set the stop event; transports finish their current work and close; the
store is closed last; the exit status is 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Coroutine
from typing import Protocol

from pplbot.app import compose
from pplbot.config import Settings
from pplbot.errors import ConfigError
from pplbot.service import Service
from pplbot.store import SqliteStore

__all__ = ["Transport", "run", "serve"]

logger = logging.getLogger(__name__)

SHUTDOWN_SECONDS = 8.0


class Transport(Protocol):
    state: str

    async def run(self, stop: asyncio.Event) -> None: ...


def build_transports(service: Service, settings: Settings, store: SqliteStore) -> dict[str, Transport]:
    transports: dict[str, Transport] = {}
    if settings.matrix_enabled:
        from pplbot.transports.matrix import MatrixTransport

        transports["matrix"] = MatrixTransport(service, settings, store)
    if settings.telegram_enabled:
        from pplbot.transports.telegram import TelegramTransport

        transports["telegram"] = TelegramTransport.from_settings(service, settings, store)
    return transports


async def serve(
    transports: dict[str, Transport],
    stop: asyncio.Event,
    extra: list[Callable[[asyncio.Event], Coroutine[object, object, None]]] | None = None,
) -> None:
    """Run every transport until `stop` is set; a crashed transport is restarted with backoff."""

    async def keep_running(name: str, transport: Transport) -> None:
        delay = 1.0
        while not stop.is_set():
            try:
                await transport.run(stop)
            except Exception:
                logger.exception("%s stopped with an error; restarting in %.0f s", name, delay)
                transport.state = "down"
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                delay = min(delay * 2, 60)

    tasks = [asyncio.create_task(keep_running(n, t), name=n) for n, t in transports.items()]
    tasks += [asyncio.create_task(job(stop)) for job in extra or []]
    await stop.wait()
    _done, pending = await asyncio.wait(tasks, timeout=SHUTDOWN_SECONDS)
    for task in pending:
        logger.warning("%s did not stop in time; cancelling it", task.get_name())
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


def run(settings: Settings) -> int:
    if not (settings.matrix_enabled or settings.telegram_enabled):
        raise ConfigError(
            "no network configured: set PPLBOT_MATRIX_HOMESERVER (with PPLBOT_MATRIX_USER_ID and a password or "
            "access token) and/or PPLBOT_TELEGRAM_TOKEN; `pplbot chat` runs in the terminal without a network"
        )
    store = SqliteStore(settings.database)
    try:
        service, live = compose(settings, store, detail_on_request=True)
    except BaseException:
        store.close()
        raise
    transports = build_transports(service, settings, store)
    for transport in transports.values():
        notify = getattr(transport, "notify_moderators", None)
        if notify is not None:
            live.notifiers.append(notify)
    extra: list[Callable[[asyncio.Event], Coroutine[object, object, None]]] = [live.watch]
    if settings.http_listen:
        from pplbot.health import HealthServer
        from pplbot.web.server import AdminSite

        admin = AdminSite.from_settings(service, live, store, settings) if service.moderation else None
        extra.append(HealthServer(settings.http_listen, service, live, transports, admin).run)
    try:
        asyncio.run(_main(transports, extra))
    finally:
        store.close()
        logger.info("stopped; state saved in %s", settings.database)
    return 0


async def _main(
    transports: dict[str, Transport], extra: list[Callable[[asyncio.Event], Coroutine[object, object, None]]]
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    logger.info("starting: %s", ", ".join(transports))
    await serve(transports, stop, extra)
