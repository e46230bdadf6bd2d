"""Load and soak on Matrix: simulated users in group rooms, talking to a real `pplbot run` process
through a real Synapse homeserver (tests/fakes/synapse.py) on loopback.

    .venv/bin/python benchmarks/matrix_load.py --users 200 --rooms 20 --minutes 3

The bot, 200 users and one observer are registered (rate limits lifted through the admin API);
each of the 20 group rooms has 10 users, the bot and the silent observer. The bot runs as a
separate `python -m pplbot run` process, so its memory is read from /proc/<pid>/status. Each user
asks a question ("!ppl who wrote the peer production license", ~80%) or takes a questionnaire
step (~20%: "!ppl quiz", then a number answering the bot's question in the thread the bot opened)
at random intervals, on average `--rate` messages a minute per room.

Users send through one aiohttp session calling the client-server API with their own access
tokens; the bot's replies are read by one syncing nio client (the observer), filtered to the
bot's messages. A reply is matched to its question by `m.in_reply_to`.

Reports messages sent, replies, lost (no reply within 30 s) and duplicated replies (more than one
reply to the same message), throughput, reply latency (send -> reply seen by the observer) and the
bot's RSS every 10 s. Exits 1 if anything was lost or duplicated (or the bot did not exit cleanly).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote
from uuid import uuid4

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from nio import AsyncClient, LoginResponse, SyncResponse  # noqa: E402

from pplbot.bench import rss_mb  # noqa: E402
from tests.fakes.synapse import RegisteredUser, SynapseServer, ensure_synapse_venv  # noqa: E402

QUESTIONS = [
    "who wrote the peer production license",
    "can a worker co-op sell ppl works",
    "is the ppl open source",
    "what does section 4(d) say",
    "is the PPL compatible with the GPL",
    "what is copyfarleft",
    "can a nonprofit use PPL material for free workshops",
    "how do I credit a PPL work",
    "can a company use a ppl work",
    "lol nice weather today",
]
PREFIX = "!ppl"
QUIZ_SHARE = 0.2
REPLY_WITHIN = 30.0  # seconds: later than this counts as lost
SAMPLE_EVERY = 10.0  # seconds between RSS samples
SETUP_TIMEOUT = 120.0  # seconds for any one setup phase
OBSERVER_FILTER: dict[str, Any] = {
    "presence": {"types": []},
    "account_data": {"types": []},
    "room": {
        "state": {"types": []},
        "ephemeral": {"types": []},
        "account_data": {"types": []},
        "timeline": {"types": ["m.room.message"], "limit": 500},  # senders: set to the bot below
    },
}
T = TypeVar("T")


# --------------------------------------------------------------------------- process helpers


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (from /proc/<pid>/stat)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def tail(path: Path, chars: int = 2000) -> str:
    return path.read_text(encoding="utf-8", errors="replace")[-chars:]


async def until(check: Callable[[], Awaitable[bool]], what: str, within: float = SETUP_TIMEOUT) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not done after {within:.0f} s")
        await asyncio.sleep(0.25)


async def bounded(jobs: Sequence[Awaitable[T]], limit: int = 16) -> list[T]:
    """Run the awaitables with at most `limit` at a time."""
    gate = asyncio.Semaphore(limit)

    async def one(job: Awaitable[T]) -> T:
        async with gate:
            return await job

    return await asyncio.wait_for(asyncio.gather(*(one(j) for j in jobs)), SETUP_TIMEOUT)


# --------------------------------------------------------------------------- the client-server API, directly


class ApiError(RuntimeError):
    pass


class Api:
    """One aiohttp session for every simulated user: each request carries that user's token."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url
        self.http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=32),
            timeout=aiohttp.ClientTimeout(total=30),
            trust_env=False,  # loopback only, never a proxy
        )

    async def call(self, method: str, path: str, token: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """One request; waits out HTTP 429 (should not happen: limits are lifted) and retries
        connection errors of idempotent requests (PUT with a transaction id, joins)."""
        failures = 0
        while True:
            try:
                async with self.http.request(
                    method, self.base + path, json=body, headers={"Authorization": f"Bearer {token}"}
                ) as resp:
                    data = await resp.json(content_type=None)
                    status = resp.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                failures += 1
                if (method == "POST" and not path.endswith("/join")) or failures >= 3:
                    raise ApiError(f"{method} {path}: {type(exc).__name__}") from exc
                await asyncio.sleep(0.5 * failures)
                continue
            if status == 429 and isinstance(data, dict):
                await asyncio.sleep(int(data.get("retry_after_ms", 500)) / 1000)
                continue
            if status >= 400 or not isinstance(data, dict):
                raise ApiError(f"{method} {path}: HTTP {status} {str(data)[:300]}")
            return data

    async def send(self, token: str, room_id: str, content: dict[str, Any]) -> str:
        path = f"/_matrix/client/v3/rooms/{quote(room_id, safe='')}/send/m.room.message/{uuid4().hex}"
        return str((await self.call("PUT", path, token, content))["event_id"])

    async def close(self) -> None:
        await self.http.close()


# --------------------------------------------------------------------------- bookkeeping


@dataclass
class Sent:
    user: int
    kind: str  # question | quiz (start) | answer (a number in the questionnaire thread)
    at: float


@dataclass
class Seen:
    """A reply of the bot, as the observer saw it."""

    event_id: str
    at: float
    options: int  # number of <li> in formatted_body: a questionnaire question when > 0 in a thread


@dataclass
class Quiz:
    root: str  # the "!ppl quiz" message: the bot's thread
    last: str  # our last message in it, waiting for the bot's reply


@dataclass
class Tally:
    sent: dict[str, Sent] = field(default_factory=dict)
    replies: dict[str, list[Seen]] = field(default_factory=dict)  # event replied to -> replies
    reply_ids: set[str] = field(default_factory=set)
    send_errors: Counter[str] = field(default_factory=Counter)
    observer_gaps: int = 0
    verdicts: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)


async def observe(client: AsyncClient, bot_id: str, tally: Tally) -> None:
    """Long-poll the observer's sync; record every bot message that replies to something."""
    flt = json.loads(json.dumps(OBSERVER_FILTER))
    flt["room"]["timeline"]["senders"] = [bot_id]
    while True:
        try:
            resp = await client.sync(timeout=10_000, sync_filter=flt)
        except (aiohttp.ClientError, TimeoutError):
            await asyncio.sleep(0.2)
            continue
        now = time.monotonic()
        if not isinstance(resp, SyncResponse):
            await asyncio.sleep(0.2)
            continue
        for info in resp.rooms.join.values():
            tally.observer_gaps += bool(info.timeline.limited)
            for event in info.timeline.events:
                content = event.source.get("content")
                if not isinstance(content, dict) or event.event_id in tally.reply_ids:
                    continue
                relates = content.get("m.relates_to")
                target = relates.get("m.in_reply_to", {}).get("event_id") if isinstance(relates, dict) else None
                if not isinstance(target, str):
                    continue
                tally.reply_ids.add(event.event_id)
                formatted = content.get("formatted_body")
                options = formatted.count("<li>") if isinstance(formatted, str) else 0
                tally.replies.setdefault(target, []).append(Seen(event.event_id, now, options))
        tally.changed.set()


# --------------------------------------------------------------------------- set-up


@dataclass
class World:
    bot: RegisteredUser
    observer: RegisteredUser
    users: list[RegisteredUser]
    rooms: list[str]  # room of user n: rooms[n % len(rooms)]


async def register_all(server: SynapseServer, api: Api, users: int) -> tuple[RegisteredUser, World]:
    async def register(name: str, admin: bool = False) -> RegisteredUser:
        return await asyncio.to_thread(server.register, name, f"{name}-password", admin)

    admin = await register("admin", admin=True)
    bot = await register("pplbot")
    observer = await register("observer")
    people = await bounded([register(f"user{n:03d}") for n in range(users)], limit=8)
    # Lift every account's message rate limit, as tests/transports/test_matrix_synapse.py sets one (0 = none).
    await bounded(
        [
            api.call(
                "POST",
                f"/_synapse/admin/v1/users/{quote(a.user_id, safe='@:')}/override_ratelimit",
                admin.access_token,
                {"messages_per_second": 0, "burst_count": 0},
            )
            for a in (bot, observer, *people)
        ]
    )
    return admin, World(bot, observer, people, [])


async def make_rooms(api: Api, world: World, rooms: int) -> None:
    members: list[list[RegisteredUser]] = [world.users[r::rooms] for r in range(rooms)]

    async def create(r: int) -> str:
        creator, *others = members[r]
        invite = [u.user_id for u in others] + [world.bot.user_id, world.observer.user_id]
        body = {"preset": "private_chat", "name": f"load test {r + 1}", "invite": invite}
        return str((await api.call("POST", "/_matrix/client/v3/createRoom", creator.access_token, body))["room_id"])

    world.rooms = await bounded([create(r) for r in range(rooms)], limit=4)
    joins = [
        api.call("POST", f"/_matrix/client/v3/rooms/{quote(room, safe='')}/join", u.access_token, {})
        for r, room in enumerate(world.rooms)
        for u in [*members[r][1:], world.observer]
    ]
    await bounded(joins, limit=8)


async def start_bot(server: SynapseServer, world: World, workdir: Path) -> tuple[asyncio.subprocess.Process, Path]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PPLBOT_")}
    env |= {
        "PPLBOT_MATRIX_HOMESERVER": server.url,
        "PPLBOT_MATRIX_USER_ID": world.bot.user_id,
        "PPLBOT_MATRIX_PASSWORD": world.bot.password,
        "PPLBOT_DATA_DIR": str(workdir / "bot-data"),
        "PPLBOT_LOG_LEVEL": "WARNING",
        "PPLBOT_LOG_FORMAT": "json",
        "NO_PROXY": "*",
    }
    log = workdir / "bot.log"
    with log.open("wb") as out:
        bot = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pplbot", "run", env=env, cwd=ROOT, stdout=out, stderr=out
        )
    return bot, log


async def wait_ready(api: Api, bot: asyncio.subprocess.Process, world: World, log: Path) -> None:
    """The bot process is running and has joined every room (so it is logged in and syncing)."""
    creators = [world.users[r] for r in range(len(world.rooms))]

    async def joined() -> bool:
        if bot.returncode is not None:
            raise RuntimeError(f"the bot exited with {bot.returncode}:\n{tail(log)}")
        for room, creator in zip(world.rooms, creators, strict=True):
            path = f"/_matrix/client/v3/rooms/{quote(room, safe='')}/joined_members"
            members = (await api.call("GET", path, creator.access_token))["joined"]
            if world.bot.user_id not in members:
                return False
        return True

    await until(joined, "the bot joining every room")


# --------------------------------------------------------------------------- the load


async def load(api: Api, world: World, tally: Tally, minutes: float, rate: float, seed: int) -> float:
    """Every user talks until the end; returns the time the load stopped."""
    rooms = len(world.rooms)
    interval = len(world.users) * 60 / (rooms * rate)  # mean seconds between one user's messages
    end = time.monotonic() + minutes * 60

    async def send(n: int, kind: str, content: dict[str, Any]) -> str | None:
        user = world.users[n]
        started = time.monotonic()
        try:
            event_id = await api.send(user.access_token, world.rooms[n % rooms], content)
        except ApiError as exc:
            tally.send_errors[str(exc)[:80]] += 1
            return None
        tally.sent[event_id] = Sent(n, kind, started)
        return event_id

    async def user(n: int) -> None:
        rng = random.Random(seed * 100_003 + n)
        quiz: Quiz | None = None
        await asyncio.sleep(min(rng.uniform(0, interval), minutes * 60))
        while time.monotonic() < end:
            answer = tally.replies.get(quiz.last) if quiz is not None else None
            if rng.random() >= QUIZ_SHARE or (quiz is not None and not answer):
                # a question (also when the bot has not yet answered the last questionnaire step)
                body = f"{PREFIX} {rng.choice(QUESTIONS)}"
                await send(n, "question", {"msgtype": "m.text", "body": body})
            elif quiz is not None and answer and answer[0].options > 0:
                choice = str(rng.randint(1, answer[0].options))
                relates = {
                    "rel_type": "m.thread",
                    "event_id": quiz.root,
                    "is_falling_back": True,
                    "m.in_reply_to": {"event_id": answer[0].event_id},
                }
                event_id = await send(n, "answer", {"msgtype": "m.text", "body": choice, "m.relates_to": relates})
                if event_id is not None:
                    quiz.last = event_id
            else:  # no questionnaire yet, or the last one ended with a verdict
                if quiz is not None:
                    tally.verdicts += 1
                event_id = await send(n, "quiz", {"msgtype": "m.text", "body": f"{PREFIX} quiz"})
                quiz = Quiz(event_id, event_id) if event_id is not None else None
            await asyncio.sleep(min(rng.expovariate(1 / interval), max(0.0, end - time.monotonic())))

    await asyncio.gather(*(user(n) for n in range(len(world.users))))
    return time.monotonic()


async def drain(tally: Tally) -> None:
    """Wait until every message has a reply or is older than REPLY_WITHIN, then a little more for
    late duplicates."""
    last = max((s.at for s in tally.sent.values()), default=time.monotonic())
    deadline = last + REPLY_WITHIN + 1
    while time.monotonic() < deadline and any(e not in tally.replies for e in tally.sent):
        tally.changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(tally.changed.wait(), max(0.1, deadline - time.monotonic()))
    await asyncio.sleep(3)


async def stop_bot(bot: asyncio.subprocess.Process) -> int:
    if bot.returncode is None:
        bot.send_signal(signal.SIGTERM)
    try:
        return await asyncio.wait_for(bot.wait(), 20)
    except TimeoutError:
        bot.kill()
        await bot.wait()
        return -9


def bot_log_summary(log: Path) -> tuple[Counter[str], Counter[str]]:
    """Log levels, and the distinct WARNING/ERROR messages (numbers and ids blurred)."""
    levels: Counter[str] = Counter()
    messages: Counter[str] = Counter()
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            levels["other"] += 1
            continue
        level = str(record.get("level"))
        levels[level] += 1
        if level in {"WARNING", "ERROR", "CRITICAL"}:
            words = [("…" if any(c in w for c in "!$@0123456789") else w) for w in str(record.get("message")).split()]
            messages[f"{level} {' '.join(words)}"[:110]] += 1
    return levels, messages


_ACCESS = re.compile(
    r"\{(?P<user>@[^}]+)\} Processed request: (?P<secs>[0-9.]+)sec.*?\"(?P<method>[A-Z]+) (?P<path>\S+) "
)


def bot_sends(synapse_log: Path, bot_id: str) -> dict[str, list[float]]:
    """Synapse's own time (ms) for each of the bot's send requests, by event type, from its access log."""
    found: dict[str, list[float]] = {}
    with synapse_log.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            match = _ACCESS.search(line)
            if match and match["user"] == bot_id and match["method"] == "PUT" and "/send/" in match["path"]:
                kind = match["path"].split("/send/", 1)[1].split("/", 1)[0]
                found.setdefault(kind, []).append(float(match["secs"]) * 1000)
    return found


def percentiles(ms: list[float]) -> tuple[float, float, float]:
    """p50, p95 and max."""
    if len(ms) < 2:
        return (ms[0], ms[0], ms[0]) if ms else (0.0, 0.0, 0.0)
    return statistics.median(ms), statistics.quantiles(ms, n=100, method="inclusive")[94], max(ms)


# --------------------------------------------------------------------------- main


async def run(server: SynapseServer, workdir: Path, users: int, rooms: int, minutes: float, rate: float) -> int:
    api = Api(server.url)
    bot: asyncio.subprocess.Process | None = None
    observer: AsyncClient | None = None
    watcher: asyncio.Task[None] | None = None
    tally = Tally()
    try:
        setup_started = time.monotonic()
        _admin, world = await register_all(server, api, users)
        bot, log = await start_bot(server, world, workdir)
        await make_rooms(api, world, rooms)
        await wait_ready(api, bot, world, log)
        observer = AsyncClient(server.url, world.observer.user_id)
        assert isinstance(await observer.login(world.observer.password, device_name="observer"), LoginResponse)
        first = await observer.sync(timeout=0, sync_filter={"room": {"timeline": {"limit": 1}}})
        assert isinstance(first, SyncResponse), first
        watcher = asyncio.create_task(observe(observer, world.bot.user_id, tally))
        setup = time.monotonic() - setup_started

        pid = bot.pid
        start = time.monotonic()
        memory = [(0.0, rss_mb(pid))]
        cpu = {"bot": cpu_seconds(pid), "synapse": cpu_seconds(server.pid or 0), "load": sum(os.times()[:2])}

        async def sample() -> None:
            while True:
                await asyncio.sleep(SAMPLE_EVERY)
                memory.append((time.monotonic() - start, rss_mb(pid)))

        sampler = asyncio.create_task(sample())
        stopped = await load(api, world, tally, minutes, rate, seed=1)
        cpu = {
            "bot": cpu_seconds(pid) - cpu["bot"],
            "synapse": cpu_seconds(server.pid or 0) - cpu["synapse"],
            "load": sum(os.times()[:2]) - cpu["load"],
        }
        load_seconds = stopped - start
        await drain(tally)
        sampler.cancel()
        memory.append((time.monotonic() - start, rss_mb(pid)))
        code = await stop_bot(bot)
    finally:
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        if observer is not None:
            await observer.close()
        if bot is not None and bot.returncode is None:
            await stop_bot(bot)
        await api.close()

    first_reply = {e: tally.replies[e][0].at for e in tally.sent if e in tally.replies}
    latency = {e: (first_reply[e] - s.at) * 1000 for e, s in tally.sent.items() if e in first_reply}
    on_time = sorted(ms for ms in latency.values() if ms <= REPLY_WITHIN * 1000)
    lost = len(tally.sent) - len(on_time)
    late = len(latency) - len(on_time)
    duplicated = sum(1 for e, seen in tally.replies.items() if e in tally.sent and len(seen) > 1)
    kinds = Counter(s.kind for s in tally.sent.values())
    levels, messages = bot_log_summary(log)
    sends = bot_sends(server.log_path, world.bot.user_id)
    rss = [m for _, m in memory]
    print(
        f"Matrix load: {users} users in {rooms} rooms for {minutes:g} min, offered {rate:g} msg/min per room "
        f"(bot exit code {code}; set-up {setup:.0f} s)"
    )
    print(
        f"  messages sent {len(tally.sent)} (questions {kinds['question']}, quiz starts {kinds['quiz']}, "
        f"quiz answers {kinds['answer']}; {tally.verdicts} questionnaires finished), send errors "
        f"{sum(tally.send_errors.values())}"
    )
    print(
        f"  replied {len(on_time)}, lost {lost} (of them late, > {REPLY_WITHIN:.0f} s: {late}), duplicated {duplicated}"
    )
    print(
        f"  throughput {len(on_time) / load_seconds:.2f} replies/s (offered {len(tally.sent) / load_seconds:.2f} msg/s)"
    )
    if on_time:
        p50, p95, top = percentiles(on_time)
        print(f"  reply latency p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {top:.0f} ms")
        by_minute: dict[int, list[float]] = {}
        for e, ms in latency.items():
            by_minute.setdefault(int((tally.sent[e].at - start) // 60), []).append(ms)
        print(
            "  by minute sent (messages, latency p50/p95 ms): "
            + ", ".join(
                f"{m + 1}: {len(v)}, {percentiles(v)[0]:.0f}/{percentiles(v)[1]:.0f}"
                for m, v in sorted(by_minute.items())
            )
        )
    busy = sum(sum(v) for v in sends.values()) / 1000
    print(
        "  the bot's sends, Synapse time: "
        + ", ".join(
            f"{kind} {len(v)} (p50 {percentiles(v)[0]:.0f} ms, p95 {percentiles(v)[1]:.0f} ms)"
            for kind, v in sorted(sends.items())
        )
        + f"; {busy:.0f} s in all, one at a time = {100 * busy / load_seconds:.0f}% of the load time"
    )
    print("  bot RSS (MB) over time: " + ", ".join(f"{t:.0f}s {m:.1f}" for t, m in memory))
    print(f"  bot RSS start {rss[0]:.1f} MB, end {rss[-1]:.1f} MB, max {max(rss):.1f} MB")
    print(
        "  CPU during the load (% of one core): "
        + ", ".join(f"{name} {100 * sec / load_seconds:.0f}%" for name, sec in cpu.items())
    )
    print(
        f"  bot log: {levels.get('WARNING', 0)} warnings, {levels.get('ERROR', 0)} errors; "
        f"observer timeline gaps {tally.observer_gaps}"
    )
    for message, count in messages.most_common(5):
        print(f"    {count} x {message}")
    for error, count in tally.send_errors.most_common(3):
        print(f"    send error {count} x {error}")
    return 0 if not lost and not duplicated and code == 0 else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--rooms", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=3)
    parser.add_argument("--rate", type=float, default=15, help="messages a minute per room (default 15)")
    args = parser.parse_args()
    if args.users < 2 * args.rooms:
        parser.error("--users must be at least twice --rooms")
    with tempfile.TemporaryDirectory(prefix="pplbot-matrix-load-") as tmp:
        workdir = Path(tmp)
        server = SynapseServer(workdir / "synapse", ensure_synapse_venv())
        server.start()
        try:
            limit = args.minutes * 60 + 8 * SETUP_TIMEOUT  # never hang
            code = asyncio.run(
                asyncio.wait_for(run(server, workdir, args.users, args.rooms, args.minutes, args.rate), limit)
            )
        finally:
            server.stop()
    sys.exit(code)


if __name__ == "__main__":
    main()
