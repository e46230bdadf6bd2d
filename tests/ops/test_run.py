"""`pplbot run` as a process: health and metrics over HTTP, clean shutdown on SIGTERM, store intact."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import sys
import time
from pathlib import Path

import aiohttp

from tests.fakes.telegram_api import FakeBotApi


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def start(env: dict[str, str]) -> asyncio.subprocess.Process:
    full = {k: v for k, v in os.environ.items() if not k.startswith("PPLBOT_")} | env
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pplbot",
        "run",
        env=full,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def wait_health(url: str, want: int, seconds: float = 30) -> str:
    deadline = time.monotonic() + seconds
    last = ""
    while time.monotonic() < deadline:
        try:
            status, body = await get(url)
            last = f"{status} {body}"
            if status == want:
                return body
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.2)
    raise AssertionError(f"/healthz never answered {want}; last: {last}")


async def test_health_metrics_and_clean_shutdown(tmp_path: Path) -> None:
    async with FakeBotApi() as fake:
        port = free_port()
        process = await start(
            {
                "PPLBOT_TELEGRAM_TOKEN": fake.token,
                "PPLBOT_TELEGRAM_BASE_URL": fake.base_url,
                "PPLBOT_DATA_DIR": str(tmp_path / "data"),
                "PPLBOT_HTTP_LISTEN": f"127.0.0.1:{port}",
                "PPLBOT_TELEGRAM_MODERATORS": "1001",
                "PTB_TIMEDELTA": "true",
            }
        )
        try:
            body = await wait_health(f"http://127.0.0.1:{port}/healthz", 200)
            assert (await get(f"http://127.0.0.1:{port}/admin"))[0] == 401  # the moderators' page, no session
            mark = fake.mark()
            fake.send_text(1001, 1001, "/kb web")
            await fake.wait_for("sendMessage", after=mark, timeout=10)
            link = fake.sent_messages(1001)[-1]["text"].split()[-1]
            assert link.startswith(f"http://127.0.0.1:{port}/admin/login?token=")
            status, page = await get(link)
            assert status == 200 and "Sign in" in page
            assert '"telegram": "connected"' in body and '"version"' in body
            mark = fake.mark()
            fake.send_text(1001, 1001, "/quiz")
            await fake.wait_for("sendMessage", after=mark, timeout=10)
            fake.send_text(1001, 1001, "who wrote the peer production license?")
            await fake.wait_for_count("sendMessage", 2, after=mark, timeout=10)
            status, metrics = await get(f"http://127.0.0.1:{port}/metrics")
            assert status == 200
            assert 'pplbot_messages_in_total{network="telegram"} 3' in metrics
            assert 'pplbot_questions_total{outcome="answered"} 1' in metrics
            assert 'pplbot_questionnaires_total{stage="started"} 1' in metrics
            assert "pplbot_reply_seconds_bucket" in metrics and 'pplbot_network_up{network="telegram"} 1' in metrics
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(process.wait(), 15)
            assert code == 0
            assert time.monotonic() - started < 10
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    with sqlite3.connect(tmp_path / "data" / "pplbot.sqlite3") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        (data,) = db.execute("SELECT data FROM sessions").fetchone()
        assert '"quiz": {"answers": []' in data  # the half-started questionnaire survives
        assert db.execute("SELECT count(*) FROM events WHERE kind = 'answered'").fetchone()[0] == 1


async def test_health_is_503_while_a_network_is_down(tmp_path: Path) -> None:
    port = free_port()
    process = await start(
        {
            "PPLBOT_TELEGRAM_TOKEN": "123456:TEST-TOKEN",
            "PPLBOT_TELEGRAM_BASE_URL": f"http://127.0.0.1:{free_port()}/bot",  # nobody listens here
            "PPLBOT_DATA_DIR": str(tmp_path / "data"),
            "PPLBOT_HTTP_LISTEN": f"127.0.0.1:{port}",
            "PTB_TIMEDELTA": "true",
        }
    )
    try:
        body = await wait_health(f"http://127.0.0.1:{port}/healthz", 503)
        assert '"status": "degraded"' in body and '"telegram": "down"' in body
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 15) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def test_logs_never_show_secrets_and_can_be_json(capsys: object) -> None:
    import json
    import logging

    from pplbot.logs import setup_logging

    setup_logging("DEBUG", "json", ["123456:very-secret-token"])
    logging.getLogger("pplbot.transports.telegram").debug(
        "HTTP Request: POST https://api.telegram.org/bot%s/getMe", "123456:very-secret-token"
    )
    err = capsys.readouterr().err  # type: ignore[attr-defined]
    record = json.loads(err.strip().splitlines()[-1])
    assert record["level"] == "DEBUG" and "very-secret" not in err and "bot********/getMe" in record["message"]
    setup_logging("WARNING")
