"""Matrix round-trip latency: the bot's answer time next to the homeserver's own echo time.

Starts a real Synapse (tests/fakes/synapse.py, cached venv), runs MatrixTransport with the real
knowledge base, and for each of N rounds measures, in the same run:

* bot:  a person sends a question in a direct chat -> the bot's reply arrives in their sync;
* echo: the person sends a plain message in a room with a second person -> it arrives in the
  second person's sync (the homeserver's own floor for any round trip).

Usage: .venv/bin/python benchmarks/matrix_latency.py [--rounds 100]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nio import AsyncClient, LoginResponse, RoomCreateResponse, RoomSendResponse, SyncResponse  # noqa: E402

from pplbot.config import Settings  # noqa: E402
from pplbot.core.bot import Bot, BotOptions  # noqa: E402
from pplbot.knowledge_files import load_knowledge  # noqa: E402
from pplbot.service import Service  # noqa: E402
from pplbot.store.sqlite import SqliteStore  # noqa: E402
from pplbot.transports.matrix import MatrixTransport  # noqa: E402
from tests.fakes.synapse import RegisteredUser, SynapseServer, ensure_synapse_venv  # noqa: E402

QUESTIONS = [
    "who wrote the peer production license",
    "can a worker co-op sell ppl works",
    "what is copyfarleft",
    "what is the ppl",
    "can a company use a ppl work",
    "is the ppl open source",
    "can I translate a ppl work",
    "what does the ppl say about attribution",
    "can a non-profit use ppl works",
    "what is the difference between the ppl and cc by-nc-sa",
]


class Listener:
    """Long-polls one client's sync in the background; records when each event arrived."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self.seen: dict[str, float] = {}  # event id -> arrival
        self.replies: dict[str, float] = {}  # event id replied to -> arrival of the reply
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def _loop(self) -> None:
        while True:
            resp = await self.client.sync(timeout=30_000)
            now = time.perf_counter()
            if not isinstance(resp, SyncResponse):
                await asyncio.sleep(0.1)
                continue
            for info in resp.rooms.join.values():
                for event in info.timeline.events:
                    self.seen.setdefault(event.event_id, now)
                    content = event.source.get("content", {})
                    reply_to = content.get("m.relates_to", {}).get("m.in_reply_to", {}).get("event_id")
                    if reply_to:
                        self.replies.setdefault(reply_to, now)
            self._changed.set()

    async def wait(self, found: Callable[[], float | None], within: float = 15.0) -> float:
        deadline = time.monotonic() + within
        while (at := found()) is None:
            self._changed.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("nothing arrived")
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                continue
        return at

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def login(url: str, user: RegisteredUser) -> AsyncClient:
    client = AsyncClient(url, user.user_id)
    resp = await client.login(user.password, device_name="bench")
    assert isinstance(resp, LoginResponse), resp
    await client.sync(timeout=0)
    return client


async def send(client: AsyncClient, room: str, body: str) -> tuple[str, float]:
    started = time.perf_counter()
    resp = await client.room_send(room, "m.room.message", {"msgtype": "m.text", "body": body})
    assert isinstance(resp, RoomSendResponse), resp
    return str(resp.event_id), started


async def until_member(client: AsyncClient, room: str, user: str) -> None:
    deadline = time.monotonic() + 15
    while not (
        room in client.rooms and user in client.rooms[room].users and user not in client.rooms[room].invited_users
    ):
        assert time.monotonic() < deadline, f"{user} did not join {room}"
        await client.sync(timeout=500)


def summary(name: str, ms: list[float]) -> dict[str, Any]:
    cuts = statistics.quantiles(ms, n=100, method="inclusive")
    return {"name": name, "p50": statistics.median(ms), "p95": cuts[94], "mean": statistics.fmean(ms), "max": max(ms)}


async def run(server: SynapseServer, workdir: Path, rounds: int) -> None:
    bot_user = server.register("bot", "bot-password")
    alice_user = server.register("alice", "alice-password")
    bob_user = server.register("bob", "bob-password")
    settings = Settings(
        knowledge_dir=ROOT / "knowledge",
        data_dir=workdir / "data",
        matrix_homeserver=server.url,
        matrix_user_id=bot_user.user_id,
        matrix_password=bot_user.password,
    )
    store = SqliteStore(workdir / "data" / "pplbot.sqlite3")
    service = Service(Bot(load_knowledge(ROOT / "knowledge"), BotOptions(detail_on_request=True)), store)
    core_ms: list[float] = []
    handle = service.handle

    def timed_handle(incoming: Any) -> Any:
        started = time.perf_counter()
        try:
            return handle(incoming)
        finally:
            core_ms.append((time.perf_counter() - started) * 1000)

    service.handle = timed_handle  # type: ignore[method-assign]
    transport = MatrixTransport(service, settings, store)
    stop = asyncio.Event()
    bot_task = asyncio.create_task(transport.run(stop))
    alice = await login(server.url, alice_user)
    bob = await login(server.url, bob_user)
    listeners: list[Listener] = []
    try:
        deadline = time.monotonic() + 30
        while transport.state != "connected":
            assert time.monotonic() < deadline and not bot_task.done(), "the bot did not connect"
            await asyncio.sleep(0.05)
        dm = await alice.room_create(invite=[bot_user.user_id], is_direct=True)
        assert isinstance(dm, RoomCreateResponse), dm
        echo = await alice.room_create(invite=[bob_user.user_id])
        assert isinstance(echo, RoomCreateResponse), echo
        while echo.room_id not in bob.invited_rooms:
            await bob.sync(timeout=500)
        await bob.join(echo.room_id)
        await until_member(alice, dm.room_id, bot_user.user_id)
        await until_member(alice, echo.room_id, bob_user.user_id)

        alice_ears, bob_ears = Listener(alice), Listener(bob)
        listeners = [alice_ears, bob_ears]
        for listener in listeners:
            listener.start()

        bot_ms: list[float] = []
        echo_ms: list[float] = []
        for i in range(rounds + 3):  # 3 warm-up rounds
            question = QUESTIONS[i % len(QUESTIONS)]
            event_id, started = await send(alice, dm.room_id, question)
            answered = await alice_ears.wait(lambda eid=event_id: alice_ears.replies.get(eid))  # type: ignore[misc]
            event_id, sent = await send(alice, echo.room_id, f"plain message {i}")
            echoed = await bob_ears.wait(lambda eid=event_id: bob_ears.seen.get(eid))  # type: ignore[misc]
            if i >= 3:
                bot_ms.append((answered - started) * 1000)
                echo_ms.append((echoed - sent) * 1000)

        rows = [summary("bot answer", bot_ms), summary("homeserver echo", echo_ms)]
        core = summary("core", core_ms[3:])  # without the warm-up rounds
        print(f"Matrix round trips, {rounds} rounds each (Synapse on loopback, real knowledge base)\n")
        print(f"{'':18}{'p50 ms':>9}{'p95 ms':>9}{'mean ms':>9}{'max ms':>9}")
        for row in rows:
            print(f"{row['name']:18}{row['p50']:9.1f}{row['p95']:9.1f}{row['mean']:9.1f}{row['max']:9.1f}")
        bot, hs = rows
        for label, k in (("bot - echo", 1), ("bot - 2 x echo", 2)):
            print(f"{label:18}" + "".join(f"{bot[c] - k * hs[c]:9.1f}" for c in ("p50", "p95", "mean")))
        print(f"{'core (handle)':18}" + "".join(f"{core[c]:9.1f}" for c in ("p50", "p95", "mean", "max")))
        print("\nA bot answer is two hops (person -> bot, bot -> person); 'core' is Service.handle alone.")
    finally:
        for listener in listeners:
            await listener.stop()
        stop.set()
        await asyncio.wait_for(bot_task, 10)
        await alice.close()
        await bob.close()
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pplbot-bench-") as tmp:
        workdir = Path(tmp)
        server = SynapseServer(workdir / "synapse", ensure_synapse_venv())
        server.start()
        try:
            asyncio.run(run(server, workdir, args.rounds))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
