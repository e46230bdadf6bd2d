"""The store: one contract for SQLite and memory; restarts, expiry, faults, many users at once."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest

from pplbot.core.bot import Bot, BotOptions
from pplbot.core.knowledge import KnowledgeBase
from pplbot.core.messages import ReplyKind
from pplbot.core.sessions import QuizState, Session, SessionKey
from pplbot.errors import StoreError
from pplbot.service import Service
from pplbot.store import MemoryStore, SqliteStore, Store, StoredEvent
from tests.conftest import T0, incoming


@pytest.fixture(params=["sqlite", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s: Store = SqliteStore(tmp_path / "state.sqlite3") if request.param == "sqlite" else MemoryStore()
    yield s
    s.close()


def test_session_round_trip(store: Store) -> None:
    key = SessionKey("matrix", "!room:x", "@a:x", "$thread")
    assert store.load_session(key) is None
    session = Session(
        key, T0, QuizState((("activity", 1),), T0, "42"), ("/quiz",), "lic-authors", frozenset({"undecryptable"})
    )
    store.save_turn(session, [StoredEvent(T0, "matrix", "!room:x", "answered", "lic-authors", "h1")])
    assert store.load_session(key) == session
    assert store.load_session(SessionKey("matrix", "!room:x", "@a:x")) is None  # threads are separate
    (event,) = store.events("answered")
    assert event.detail == "lic-authors" and event.at == T0
    assert store.events("fallback") == [] and len(store.events(since=T0 + timedelta(days=1))) == 0


def test_values(store: Store) -> None:
    assert store.get_value("x") is None
    store.set_value("x", "1")
    store.set_value("x", "2")
    assert store.get_value("x") == "2"


def test_sqlite_versioned_schema(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    SqliteStore(path).close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 2
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="schema version 99"):
        SqliteStore(path)


def test_corrupt_database_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="cannot open the state database"):
        SqliteStore(path)


def test_unwritable_location_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError):
        SqliteStore(blocker / "sub" / "s.sqlite3")


class BrokenStore(MemoryStore):
    def load_session(self, key: SessionKey) -> Session | None:
        raise StoreError("disk on fire")

    def save_turn(self, session: Session, events: object) -> None:  # type: ignore[override]
        raise StoreError("disk on fire")


def test_service_still_answers_when_the_store_fails(small_bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    service = Service(small_bot, BrokenStore())
    replies = service.handle(incoming("who wrote the peer production license?"))
    assert replies[0].kind is ReplyKind.ANSWER and len(replies) == 1
    replies = service.handle(incoming("/quiz"))
    assert replies[-1].kind is ReplyKind.ERROR and "can't save progress" in replies[-1].text
    assert "store unavailable" in caplog.text


def test_half_finished_questionnaire_resumes_after_restart(small_kb: KnowledgeBase, tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    first = Service(Bot(small_kb), SqliteStore(path))
    first.handle(incoming("/quiz"))
    first.handle(incoming("3", at=T0 + timedelta(minutes=1)))
    first.store.close()
    second = Service(Bot(small_kb), SqliteStore(path))  # a new process: nothing in memory
    (reply,) = second.handle(incoming("1", at=T0 + timedelta(minutes=2)))
    assert reply.kind is ReplyKind.QUESTION and reply.text.startswith("**Question 3 of")
    second.store.close()


def test_expiry_survives_a_restart(small_kb: KnowledgeBase, tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    options = BotOptions(quiz_idle=timedelta(minutes=30))
    first = Service(Bot(small_kb, options), SqliteStore(path))
    first.handle(incoming("/quiz"))
    first.store.close()
    second = Service(Bot(small_kb, options), SqliteStore(path))
    replies = second.handle(incoming("2", at=T0 + timedelta(minutes=45)))
    assert "expired after 30 minutes" in replies[0].text
    assert second.session(SessionKey("test", "c1", "alice")) is not None
    assert second.session(SessionKey("test", "c1", "alice")).quiz is None  # type: ignore[union-attr]
    second.store.close()


SCRIPTS = {
    "needs_separate_permission": ["3", "1", "7"],  # share it; under the PPL; a company with employees
    "permitted_with_conditions": ["3", "1", "1", "1"],  # ...; a private person; no money
    "not_permitted": ["3", "3"],  # share it; with DRM
    "unclear": ["3", "1", "1", "3"],  # ...; a private person; a few ads
    "permitted": ["1", "1"],  # only read it; not a company
}


def test_fifty_users_in_one_group_at_once(small_kb: KnowledgeBase, tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.sqlite3")
    service = Service(Bot(small_kb), store)
    rng = random.Random(5)
    users = {f"user{i}": rng.choice(sorted(SCRIPTS)) for i in range(50)}
    steps = {u: ["/quiz", *SCRIPTS[v]] for u, v in users.items()}
    verdicts: dict[str, str] = {}

    def play(user: str, text: str, n: int) -> None:
        for reply in service.handle(incoming(text, user=user, chat="group", group=True, at=T0 + timedelta(seconds=n))):
            if reply.kind is ReplyKind.VERDICT and reply.data is not None:
                verdicts[user] = str(reply.data["verdict"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        for n in range(max(len(s) for s in steps.values())):
            batch = [(u, s[n]) for u, s in steps.items() if n < len(s)]
            rng.shuffle(batch)
            list(pool.map(lambda ut, n=n: play(ut[0], ut[1], n), batch))
    assert verdicts == users
    assert len(store.events("verdict")) == 50
    store.close()
