"""The real-Synapse fixture works with matrix-nio: plain and E2EE round trips, restart."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from nio import (
    AsyncClient,
    AsyncClientConfig,
    JoinResponse,
    KeysClaimResponse,
    KeysQueryResponse,
    KeysUploadResponse,
    LoginResponse,
    MatrixRoom,
    MegolmEvent,
    RoomCreateResponse,
    RoomMessageText,
    RoomSendResponse,
    SyncResponse,
)

from .synapse import RegisteredUser, SynapseHTTPError, SynapseServer, synapse_fixture

pytestmark = pytest.mark.asyncio

ENCRYPTION_STATE = {
    "type": "m.room.encryption",
    "state_key": "",
    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
}


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynapseServer]:
    yield from synapse_fixture(tmp_path_factory)


@pytest.fixture(scope="session")
def users(synapse: SynapseServer) -> dict[str, RegisteredUser]:
    return {
        "bot": synapse.register("bot", "bot-password"),
        "alice": synapse.register("alice", "alice-password"),
        "admin": synapse.register("admin", "admin-password", admin=True),
    }


class Collector:
    """Event callback that remembers (room_id, event) pairs."""

    def __init__(self) -> None:
        self.events: list[tuple[str, RoomMessageText | MegolmEvent]] = []

    def __call__(self, room: MatrixRoom, event: RoomMessageText | MegolmEvent) -> None:
        self.events.append((room.room_id, event))

    def find(self, event_id: str) -> RoomMessageText | MegolmEvent | None:
        return next((ev for _, ev in self.events if ev.event_id == event_id), None)


ClientFactory = Callable[[RegisteredUser, bool], Awaitable[AsyncClient]]


@pytest_asyncio.fixture
async def login(synapse: SynapseServer, tmp_path: Path) -> AsyncIterator[ClientFactory]:
    """Password-login a fresh device (fresh store for E2EE); close all at the end."""
    clients: list[AsyncClient] = []

    async def make(user: RegisteredUser, encrypted: bool) -> AsyncClient:
        store = tmp_path / f"store-{user.localpart}-{len(clients)}"
        store.mkdir()
        client = AsyncClient(
            synapse.url,
            user.user_id,
            store_path=str(store),
            config=AsyncClientConfig(encryption_enabled=encrypted, store_sync_tokens=encrypted),
        )
        clients.append(client)
        resp = await client.login(user.password, device_name=f"pytest-{user.localpart}")
        assert isinstance(resp, LoginResponse), resp
        # Skip history: the first sync must not be mistaken for new events.
        await sync_until(client, lambda: True)
        return client

    try:
        yield make
    finally:
        for client in clients:
            await client.close()


async def sync_until(client: AsyncClient, done: Callable[[], bool], what: str = "", limit: float = 15.0) -> None:
    """Sync (and do the E2EE key chores sync_forever would do) until done()."""
    deadline = time.monotonic() + limit
    while True:
        resp = await client.sync(timeout=200)
        assert isinstance(resp, SyncResponse), resp
        if client.olm is not None:
            if client.should_upload_keys:
                assert isinstance(await client.keys_upload(), KeysUploadResponse)
            if client.should_query_keys:
                assert isinstance(await client.keys_query(), KeysQueryResponse)
            if client.should_claim_keys:
                claimed = await client.keys_claim(client.get_users_for_key_claiming())
                assert isinstance(claimed, KeysClaimResponse)
        if done():
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{client.user_id}: no {what or 'condition'} after {limit} s")


def joined(client: AsyncClient, room_id: str, user_id: str) -> bool:
    room = client.rooms.get(room_id)
    return room is not None and user_id in room.users and user_id not in room.invited_users


async def make_room(alice: AsyncClient, bot: AsyncClient, encrypted: bool) -> str:
    """Alice creates a room and invites the bot, the bot joins; both see it."""
    created = await alice.room_create(
        name="pytest room",
        invite=[bot.user_id],
        initial_state=[ENCRYPTION_STATE] if encrypted else [],
    )
    assert isinstance(created, RoomCreateResponse), created
    room_id: str = created.room_id
    await sync_until(bot, lambda: room_id in bot.invited_rooms, what="invite")
    assert isinstance(await bot.join(room_id), JoinResponse)
    await sync_until(bot, lambda: joined(bot, room_id, bot.user_id), what="own join")
    await sync_until(alice, lambda: joined(alice, room_id, bot.user_id), what="bot's join")
    if encrypted:
        assert bot.rooms[room_id].encrypted and alice.rooms[room_id].encrypted
        # Alice must know the bot's device keys before the first encrypted send.
        await sync_until(
            alice,
            lambda: bool(list(alice.device_store.active_user_devices(bot.user_id))),
            what="bot device keys",
        )
    return room_id


async def send_and_receive(
    sender: AsyncClient, receiver: AsyncClient, room_id: str, body: str
) -> RoomMessageText | MegolmEvent:
    collector = Collector()
    receiver.add_event_callback(collector, (RoomMessageText, MegolmEvent))
    sent = await sender.room_send(
        room_id,
        "m.room.message",
        {"msgtype": "m.text", "body": body},
        ignore_unverified_devices=True,
    )
    assert isinstance(sent, RoomSendResponse), sent
    await sync_until(receiver, lambda: collector.find(sent.event_id) is not None, what=f"event {body!r}")
    event = collector.find(sent.event_id)
    assert event is not None
    return event


async def test_plain_room_round_trip(
    synapse: SynapseServer, users: dict[str, RegisteredUser], login: ClientFactory
) -> None:
    assert synapse.url.startswith("http://127.0.0.1:")
    bot = await login(users["bot"], False)
    alice = await login(users["alice"], False)

    room_id = await make_room(alice, bot, encrypted=False)
    event = await send_and_receive(alice, bot, room_id, "hello bot")

    assert isinstance(event, RoomMessageText)
    assert event.body == "hello bot"
    assert event.sender == users["alice"].user_id


async def test_encrypted_room_round_trip(users: dict[str, RegisteredUser], login: ClientFactory) -> None:
    bot = await login(users["bot"], True)
    alice = await login(users["alice"], True)

    room_id = await make_room(alice, bot, encrypted=True)
    event = await send_and_receive(alice, bot, room_id, "secret hello")

    assert isinstance(event, RoomMessageText), f"not decrypted: {event}"
    assert event.decrypted
    assert event.body == "secret hello"
    # ... and the other way round.
    reply = await send_and_receive(bot, alice, room_id, "secret reply")
    assert isinstance(reply, RoomMessageText) and reply.decrypted
    assert reply.body == "secret reply"


async def test_admin_api(synapse: SynapseServer, users: dict[str, RegisteredUser]) -> None:
    admin = users["admin"].access_token
    bot_id = users["bot"].user_id

    info = await asyncio.to_thread(synapse.admin_request, "GET", f"/_synapse/admin/v2/users/{bot_id}", admin)
    assert info["name"] == bot_id and not info["admin"]

    override: dict[str, Any] = {"messages_per_second": 0, "burst_count": 0}
    path = f"/_synapse/admin/v1/users/{bot_id}/override_ratelimit"
    assert await asyncio.to_thread(synapse.admin_request, "POST", path, admin, override) == override

    with pytest.raises(SynapseHTTPError) as err:
        synapse.admin_request("GET", "/_synapse/admin/v2/users", users["bot"].access_token)
    assert err.value.status == 403
    assert err.value.json()["errcode"] == "M_FORBIDDEN"

    with pytest.raises(SynapseHTTPError) as dup:
        synapse.register("bot", "whatever")
    assert dup.value.status == 400


async def test_restart(synapse: SynapseServer, users: dict[str, RegisteredUser], login: ClientFactory) -> None:
    bot = await login(users["bot"], False)
    alice = await login(users["alice"], False)
    room_id = await make_room(alice, bot, encrypted=False)
    url, pid = synapse.url, synapse.pid

    await asyncio.to_thread(synapse.restart)

    assert synapse.url == url and synapse.pid != pid and synapse.running
    # Same DB: the old access tokens, the room and the sync tokens are still valid.
    event = await send_and_receive(alice, bot, room_id, "after restart")
    assert isinstance(event, RoomMessageText) and event.body == "after restart"
