"""Matrix fixtures: a real Synapse (session), fresh accounts, test users as nio clients, the bot.

`Peer` is a person's Matrix client that remembers every timeline event it syncs;
`BotRunner` runs a `MatrixTransport` in a task and can stop and start it again on the same
data directory and database (a bot restart).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import ClientError
from nio import (
    AsyncClient,
    AsyncClientConfig,
    Event,
    LoginResponse,
    RoomCreateResponse,
    RoomMemberEvent,
    RoomSendResponse,
    SyncResponse,
)

from pplbot.config import Settings
from pplbot.core.bot import Bot, BotOptions
from pplbot.core.knowledge import KnowledgeBase
from pplbot.service import Service
from pplbot.store.sqlite import SqliteStore
from pplbot.transports.matrix import MatrixTransport
from tests.conftest import EMBEDDER
from tests.fakes.synapse import RegisteredUser, SynapseServer, synapse_fixture

WAIT = 15.0  # seconds to wait for anything the bot should do
ENCRYPTION_STATE = {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}
_NAMES = itertools.count(1)


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynapseServer]:
    yield from synapse_fixture(tmp_path_factory)


@pytest.fixture(scope="session")
def admin(synapse: SynapseServer) -> RegisteredUser:
    return synapse.register("admin", "admin-password", admin=True)


Register = Callable[[str], Awaitable[RegisteredUser]]


@pytest.fixture
def register(synapse: SynapseServer) -> Register:
    """A fresh account per call (`register("bot")` -> @bot7:localhost): tests don't share rooms or devices."""

    async def make(prefix: str) -> RegisteredUser:
        name = f"{prefix}{next(_NAMES)}"
        return await asyncio.to_thread(synapse.register, name, f"{name}-password")

    return make


def relates(event: Event) -> dict[str, Any]:
    content = event.source.get("content", {})
    value = content.get("m.relates_to") if isinstance(content, dict) else None
    return value if isinstance(value, dict) else {}


def in_reply_to(event: Event) -> str | None:
    value = relates(event).get("m.in_reply_to")
    return value.get("event_id") if isinstance(value, dict) else None


@dataclass
class Peer:
    """A person's Matrix client; `events` is every timeline event seen, in order, with its room."""

    client: AsyncClient
    user: RegisteredUser
    events: list[tuple[str, Event]] = field(default_factory=list)

    @property
    def user_id(self) -> str:
        return self.user.user_id

    async def sync(self, timeout_ms: int = 500) -> None:
        c = self.client
        try:
            resp = await c.sync(timeout=timeout_ms)
        except (ClientError, TimeoutError, OSError):  # the homeserver is restarting
            await asyncio.sleep(0.2)
            return
        if not isinstance(resp, SyncResponse):
            await asyncio.sleep(0.2)
            return
        for room_id, info in resp.rooms.join.items():
            self.events.extend((room_id, e) for e in info.timeline.events)
        if c.olm is not None:
            if c.outgoing_to_device_messages:
                await c.send_to_device_messages()
            if c.should_upload_keys:
                await c.keys_upload()
            if c.should_query_keys:
                await c.keys_query()
            if c.should_claim_keys:
                await c.keys_claim(c.get_users_for_key_claiming())

    async def until(self, done: Callable[[], Any], what: str, within: float = WAIT) -> Any:
        deadline = time.monotonic() + within
        while True:
            result = done()
            if result:
                return result
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.user_id}: no {what} after {within} s")
            await self.sync()

    def from_user(self, user_id: str, room_id: str | None = None) -> list[Event]:
        return [e for r, e in self.events if getattr(e, "sender", None) == user_id and room_id in (None, r)]

    def replies(self, bot: str, event_id: str) -> list[Event]:
        """The bot's messages that reply to `event_id`."""
        return [e for e in self.from_user(bot) if not _is_reaction(e) and in_reply_to(e) == event_id]

    async def reply(self, bot: str, event_id: str, what: str = "") -> Event:
        found = await self.until(lambda: self.replies(bot, event_id), what or f"reply to {event_id}")
        return found[0]

    async def send(self, room_id: str, body: str, msgtype: str = "m.text", extra: dict[str, Any] | None = None) -> str:
        content: dict[str, Any] = {"msgtype": msgtype, "body": body, **(extra or {})}
        return await self.send_event(room_id, "m.room.message", content)

    async def send_event(self, room_id: str, event_type: str, content: dict[str, Any]) -> str:
        resp = await self.client.room_send(room_id, event_type, content, ignore_unverified_devices=True)
        assert isinstance(resp, RoomSendResponse), resp
        return str(resp.event_id)

    async def react(self, room_id: str, event_id: str, key: str) -> str:
        relation = {"rel_type": "m.annotation", "event_id": event_id, "key": key}
        return await self.send_event(room_id, "m.reaction", {"m.relates_to": relation})

    async def create_room(
        self, invite: list[str], *, direct: bool = False, encrypted: bool = False, name: str | None = None
    ) -> str:
        resp = await self.client.room_create(
            name=name,
            invite=invite,
            is_direct=direct,
            initial_state=[ENCRYPTION_STATE] if encrypted else [],
        )
        assert isinstance(resp, RoomCreateResponse), resp
        return str(resp.room_id)

    def member(self, room_id: str, user_id: str) -> bool:
        room = self.client.rooms.get(room_id)
        return room is not None and user_id in room.users and user_id not in room.invited_users

    def membership(self, room_id: str, user_id: str) -> str | None:
        found = [
            e.membership
            for r, e in self.events
            if r == room_id and isinstance(e, RoomMemberEvent) and e.state_key == user_id
        ]
        return str(found[-1]) if found else None

    async def joined(self, room_id: str, *users: str) -> None:
        await self.until(lambda: all(self.member(room_id, u) for u in users), f"{users} joined {room_id}")
        if self.client.olm is not None and self.client.rooms[room_id].encrypted:
            store = self.client.device_store
            await self.until(lambda: all(list(store.active_user_devices(u)) for u in users), "the members' device keys")


PeerFactory = Callable[..., Awaitable[Peer]]


@pytest_asyncio.fixture
async def peers(synapse: SynapseServer, register: Register, tmp_path: Path) -> AsyncIterator[PeerFactory]:
    """`await peers("alice", encrypted=False)`: a fresh account logged in on a fresh device."""
    made: list[Peer] = []

    async def make(prefix: str, encrypted: bool = False) -> Peer:
        user = await register(prefix)
        store = tmp_path / f"peer-{user.localpart}"
        store.mkdir()
        client = AsyncClient(
            synapse.url,
            user.user_id,
            store_path=str(store),
            config=AsyncClientConfig(encryption_enabled=encrypted, store_sync_tokens=False),
        )
        peer = Peer(client, user)
        made.append(peer)
        resp = await client.login(user.password, device_name=f"pytest-{user.localpart}")
        assert isinstance(resp, LoginResponse), resp
        await peer.sync(0)
        return peer

    try:
        yield make
    finally:
        for peer in made:
            await peer.client.close()


class BotRunner:
    """The bot as the runner builds it, on `data_dir`; `start()`/`stop()` can be repeated."""

    def __init__(self, settings: Settings, kb: KnowledgeBase, db: Path) -> None:
        self.settings = settings
        self.kb = kb
        self.db = db
        self.store: SqliteStore | None = None
        self.service: Service | None = None
        self.transport: MatrixTransport | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def user_id(self) -> str:
        assert self.settings.matrix_user_id is not None
        return self.settings.matrix_user_id

    async def start(self, wait: bool = True, **options: Any) -> MatrixTransport:
        self.store = SqliteStore(self.db)
        self.service = Service(Bot(self.kb, BotOptions(detail_on_request=True, embedder=EMBEDDER)), self.store)
        self.transport = MatrixTransport(
            self.service, self.settings, self.store, retry_delay=0.2, max_retry_delay=1.0, **options
        )
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self.transport.run(self._stop))
        if wait:
            deadline = time.monotonic() + WAIT
            while self.transport.state != "connected":
                assert not self._task.done(), "the transport stopped"
                assert time.monotonic() < deadline, f"not connected after {WAIT} s: {self.transport.state}"
                await asyncio.sleep(0.05)
        return self.transport

    async def stop(self) -> None:
        if self._task is not None:
            self._stop.set()
            await asyncio.wait_for(self._task, 10)
            self._task = None
        if self.store is not None:
            self.store.close()
            self.store = None


BotFactory = Callable[..., Awaitable[BotRunner]]


@pytest_asyncio.fixture
async def bots(
    synapse: SynapseServer, register: Register, kb: KnowledgeBase, tmp_path: Path
) -> AsyncIterator[BotFactory]:
    """`await bots(**settings)`: a fresh bot account, its transport started and connected."""
    made: list[BotRunner] = []

    async def make(start: bool = True, **overrides: Any) -> BotRunner:
        account = await register("bot")
        settings = Settings(
            knowledge_dir=Path("knowledge"),
            data_dir=tmp_path / f"data-{account.localpart}",
            matrix_homeserver=synapse.url,
            matrix_user_id=account.user_id,
            matrix_password=account.password,
        )
        runner = BotRunner(replace(settings, **overrides), kb, tmp_path / f"db-{account.localpart}" / "pplbot.sqlite3")
        made.append(runner)
        if start:
            await runner.start()
        return runner

    try:
        yield make
    finally:
        for runner in made:
            with contextlib.suppress(Exception):
                await runner.stop()


def _is_reaction(event: Event) -> bool:
    return relates(event).get("rel_type") == "m.annotation"
