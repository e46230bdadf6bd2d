"""Render time of the moderators' pages at scale, measured over real HTTP on loopback.

    .venv/bin/python benchmarks/web_render.py [--entries 1000] [--questions 10000] [--rounds 30]

Builds a knowledge folder of N synthetic entries (8 paraphrases each, plus the bundled
questionnaire) and a SQLite state file holding M logged unanswered questions (variants of M/5
distinct questions over 90 days), signs in with a one-time link, then times GET requests of the
entries page, the unanswered page and the dashboard. Grouping all M questions happens once, when
the server starts (printed); later requests add only questions logged since.
"""

from __future__ import annotations

import argparse
import http.client
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml

from pplbot.app import compose
from pplbot.bench import rss_mb, synthetic_entries
from pplbot.config import load_settings
from pplbot.store import SqliteStore
from pplbot.web.local import LocalWeb
from pplbot.web.server import COOKIE

ROOT = Path(__file__).resolve().parents[1]
WORDS = "how can may i we our co-op use share sell remix the ppl licence work music zine code for money at a festival".split()


def knowledge(folder: Path, count: int) -> None:
    (folder / "faq").mkdir(parents=True)
    entries = [
        {
            "id": e.id,
            "questions": list(e.questions),
            "answer": f"Section 3 grants this for entry {e.id}: " + e.answer + ".",
            "sources": ["PPL 3"],
        }
        for e in synthetic_entries(count)
    ]
    (folder / "faq" / "synthetic.yaml").write_text(yaml.safe_dump({"entries": entries}, allow_unicode=True))
    (folder / "questionnaire.yaml").write_text((ROOT / "knowledge" / "questionnaire.yaml").read_text())
    (folder / "vocabulary.yaml").write_text((ROOT / "knowledge" / "vocabulary.yaml").read_text())


def log_questions(store: SqliteStore, count: int, now: datetime) -> None:
    rng = random.Random(5)
    bases = [" ".join(rng.sample(WORDS, rng.randint(5, 9))) for _ in range(max(1, count // 5))]
    rows = []
    for i in range(count):
        words = rng.choice(bases).split()
        if rng.random() < 0.3:
            rng.shuffle(words)
        if rng.random() < 0.3:
            words[0] = words[0] + "x"
        at = now - timedelta(minutes=rng.randint(0, 89 * 24 * 60))
        rows.append((at.isoformat(), "matrix", f"!room{i % 40}", "unanswered", " ".join(words) + "?", ""))
    for row in rows:
        store.execute("INSERT INTO events (at, network, chat, kind, detail, user_hash) VALUES (?, ?, ?, ?, ?, ?)", row)
        store.execute(
            "INSERT INTO events (at, network, chat, kind, detail, user_hash) VALUES (?, ?, ?, ?, ?, ?)",
            (row[0], row[1], row[2], rng.choice(["answered", "answered", "suggested", "fallback"]), "", ""),
        )


def get(port: int, path: str, cookie: str) -> tuple[float, int, int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    start = time.perf_counter()
    conn.request("GET", path, headers={"Cookie": f"{COOKIE}={cookie}"})
    response = conn.getresponse()
    body = response.read()
    took = (time.perf_counter() - start) * 1000
    conn.close()
    return took, response.status, len(body)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--questions", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "knowledge"
        knowledge(folder, args.entries)
        settings = load_settings(
            {
                "PPLBOT_KNOWLEDGE_DIR": str(folder),
                "PPLBOT_DATA_DIR": str(Path(tmp) / "data"),
                "PPLBOT_HTTP_LISTEN": "127.0.0.1:0",
            }
        )
        store = SqliteStore(settings.database)
        log_questions(store, args.questions, datetime.now(UTC))
        service, live = compose(settings, store)
        web = LocalWeb(service, live, store, settings)
        web.install()
        started = time.perf_counter()
        link = web.link("Bench [@bench:x]", "matrix")  # starts the server; warm() groups the log
        print(f"  server start with warm-up (templates, grouping): {(time.perf_counter() - started) * 1000:.0f} ms")
        assert web.site is not None
        port = int(web.site.base_url.rsplit(":", 1)[1])
        token = link.split("token=", 1)[1]
        result = web.site.auth.use_link(token)
        assert not isinstance(result, str)
        cookie = result[0]
        print(
            f"{len(live.current.kb.entries)} entries, {args.questions} logged unanswered questions; RSS {rss_mb():.0f} MB"
        )
        pages = [
            ("entries page", "/admin/entries"),
            ("entries search", "/admin/entries?q=answer"),
            ("unanswered page", "/admin/unanswered"),
            ("dashboard", "/admin"),
            ("audit", "/admin/audit"),
        ]
        print(f"  {'page':<34} {'p50':>8} {'p95':>8} {'max':>8}  (of {args.rounds} requests)")
        for label, path in pages:
            times = []
            cold, _, _ = get(port, path, cookie)
            for _ in range(args.rounds):
                took, status, size = get(port, path, cookie)
                assert status == 200, (path, status)
                times.append(took)
            times.sort()
            p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
            print(
                f"  {label:<34} {statistics.median(times):6.1f} ms {p95:6.1f} ms {times[-1]:6.1f} ms  {size / 1024:.0f} KB"
                f", first request {cold:.1f} ms"
            )
        groups = len(web.site.log.groups(datetime.now(UTC)))
        print(f"  {groups} groups of similar questions; RSS {rss_mb():.0f} MB")
        web.close()
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
