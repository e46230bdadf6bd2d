"""Load and soak on Telegram: simulated users in groups, talking to a real `pplbot run` process
through python-telegram-bot's HTTP stack and the fake Bot API server (tests/fakes/telegram_api.py).

    .venv/bin/python benchmarks/telegram_load.py --users 200 --groups 20 --minutes 3

Each user asks a question or takes a questionnaire step at random intervals. The bot respects
Telegram's limits (about 20 messages a minute per group), so the offered load is kept below them.
Reports throughput, reply latency (message injected -> reply received by the server), lost and
duplicated replies, and the bot process's memory over time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pplbot.bench import rss_mb
from tests.fakes.telegram_api import FakeBotApi

QUESTIONS = [
    "who wrote the peer production license?",
    "can a worker co-op sell PPL works?",
    "is the ppl open source?",
    "what does section 4(d) say?",
    "is the PPL compatible with the GPL?",
    "what is copyfarleft?",
    "can a nonprofit use PPL material for free workshops?",
    "how do I credit a PPL work?",
    "lol nice weather today",
]


async def main(users: int, groups: int, minutes: float) -> int:
    data = Path(tempfile.mkdtemp(prefix="pplbot-load-"))
    async with FakeBotApi() as fake:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PPLBOT_")}
        env |= {
            "PPLBOT_TELEGRAM_TOKEN": fake.token,
            "PPLBOT_TELEGRAM_BASE_URL": fake.base_url,
            "PPLBOT_DATA_DIR": str(data),
            "PPLBOT_LOG_LEVEL": "WARNING",
            "PTB_TIMEDELTA": "true",
        }
        bot = await asyncio.create_subprocess_exec(sys.executable, "-m", "pplbot", "run", env=env)
        await fake.wait_for("getUpdates", timeout=30)
        chats = [-1000 - g for g in range(groups)]
        for chat in chats:
            fake.add_chat(chat, "supergroup", title=f"group {chat}")
        sent: dict[tuple[int, int], float] = {}  # (chat, message id) -> time injected
        memory = [(0.0, rss_mb(bot.pid))]
        start = time.monotonic()
        end = start + minutes * 60
        per_user_interval = users * 60 / (groups * 15)  # ~15 messages a minute per group, under the limit

        async def user(n: int) -> None:
            rng = random.Random(n)
            chat = chats[n % groups]
            await asyncio.sleep(min(rng.uniform(0, per_user_interval), minutes * 60))
            while time.monotonic() < end:
                text = "/ask " + rng.choice(QUESTIONS) if rng.random() < 0.8 else "/quiz"
                update = fake.send_text(chat, 10_000 + n, text)
                sent[(chat, update["message"]["message_id"])] = time.monotonic()
                await asyncio.sleep(min(rng.expovariate(1 / per_user_interval), max(0.0, end - time.monotonic())))

        async def sample() -> None:
            while time.monotonic() < end:
                await asyncio.sleep(min(10, max(0.0, end - time.monotonic())))
                memory.append((time.monotonic() - start, rss_mb(bot.pid)))

        await asyncio.gather(*(user(n) for n in range(users)), sample())
        await asyncio.sleep(15)  # let the last replies arrive
        replies: dict[tuple[int, int], list[float]] = {}
        for call in fake.calls_to("sendMessage"):
            target = (call.params.get("reply_parameters") or {}).get("message_id")
            if call.ok and target is not None:
                replies.setdefault((int(call.params["chat_id"]), int(target)), []).append(call.time)
        if bot.returncode is None:
            bot.terminate()
        code = await bot.wait()
    latencies = [(min(replies[k]) - t) * 1000 for k, t in sent.items() if k in replies]
    lost = [k for k in sent if k not in replies]
    duplicated = [k for k, v in replies.items() if len(v) > 1]
    duration = minutes * 60
    latencies.sort()
    print(f"Telegram load: {users} users in {groups} groups for {minutes:g} min (bot exit code {code})")
    print(f"  messages sent {len(sent)}, replied {len(latencies)}, lost {len(lost)}, duplicated {len(duplicated)}")
    print(f"  throughput {len(latencies) / duration:.2f} replies/s")
    if latencies:
        p95 = latencies[int(len(latencies) * 0.95) - 1]
        print(
            f"  reply latency p50 {statistics.median(latencies):.0f} ms, p95 {p95:.0f} ms, max {latencies[-1]:.0f} ms"
        )
    print("  bot RSS (MB) over time: " + ", ".join(f"{t:.0f}s {m:.1f}" for t, m in memory))
    return 0 if not lost and not duplicated and code == 0 else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--groups", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=3)
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.users, args.groups, args.minutes)))
