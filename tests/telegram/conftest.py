from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pplbot.core.bot import Bot, BotOptions
from pplbot.core.knowledge import KnowledgeBase
from pplbot.moderation.commands import Moderation
from pplbot.moderation.live import LiveKnowledge
from pplbot.service import Service
from pplbot.store import SqliteStore
from pplbot.transports.telegram import TelegramTransport, WebhookOptions, build_application
from tests.conftest import EMBEDDER, KNOWLEDGE
from tests.fakes.telegram_api import FakeBotApi


@dataclass
class Running:
    fake: FakeBotApi
    transport: TelegramTransport
    store: SqliteStore
    stop: asyncio.Event
    task: asyncio.Task[None]

    async def close(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 10)


async def start_bot(
    fake: FakeBotApi,
    kb: KnowledgeBase,
    db: Path,
    *,
    webhook: WebhookOptions | None = None,
    moderators: tuple[str, ...] = (),
    knowledge: Path = KNOWLEDGE,
) -> Running:
    store = SqliteStore(db)
    live = LiveKnowledge(knowledge)
    service = Service(
        Bot(live.current.kb if knowledge != KNOWLEDGE else kb, BotOptions(embedder=EMBEDDER)),
        store,
        Moderation(live, store),
    )
    live.on_change = service.set_knowledge
    app = build_application(fake.token, fake.base_url, group_max_rate=1000, overall_max_rate=1000)
    transport = TelegramTransport(service, app, store, webhook=webhook, poll_timeout=1, moderators=moderators)
    stop = asyncio.Event()
    mark = fake.mark()
    task = asyncio.create_task(transport.run(stop))
    await fake.wait_for("setWebhook" if webhook else "getUpdates", after=mark, timeout=10)
    return Running(fake, transport, store, stop, task)


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as api:
        yield api


@pytest.fixture
async def running(fake: FakeBotApi, kb: KnowledgeBase, tmp_path: Path) -> AsyncIterator[Running]:
    bot = await start_bot(fake, kb, tmp_path / "state.sqlite3")
    yield bot
    await bot.close()
    bot.store.close()
