from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

# python-telegram-bot 22 warns (PTBDeprecationWarning) unless durations are timedeltas.
os.environ.setdefault("PTB_TIMEDELTA", "true")
# the default data folder (state, cached phrase vectors) of every bot and `pplbot` process started
# by a test is a temporary one, never the developer's ~/.local/share/pplbot
os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="pplbot-tests-xdg-")

from pplbot.core.bot import Bot, BotOptions
from pplbot.core.knowledge import KnowledgeBase
from pplbot.core.loading import parse_knowledge
from pplbot.core.messages import ChatKind, Incoming
from pplbot.embedding import load_embedder
from pplbot.knowledge_files import load_knowledge, read_document, read_documents

ROOT = Path(__file__).resolve().parents[1]
KNOWLEDGE = ROOT / "knowledge"
SMALL_KB = Path(__file__).parent / "data" / "kb"
T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
EMBEDDER = load_embedder()  # the shipped static model, loaded once: bots in tests match as `pplbot` does


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    """The real, bundled knowledge base."""
    return load_knowledge(KNOWLEDGE)


@pytest.fixture(scope="session")
def small_kb() -> KnowledgeBase:
    """A few FAQ entries of our own plus the real questionnaire."""
    docs = [*read_documents(SMALL_KB), read_document(KNOWLEDGE / "questionnaire.yaml")]
    return parse_knowledge(docs)


@pytest.fixture(scope="session")
def small_bot(small_kb: KnowledgeBase) -> Bot:
    return Bot(small_kb)


@pytest.fixture(scope="session")
def bot(kb: KnowledgeBase) -> Bot:
    """The bundled knowledge base with the shipped static embedding model, as `pplbot` runs it."""
    return Bot(kb, BotOptions(embedder=EMBEDDER))


def incoming(
    text: str,
    *,
    user: str = "alice",
    chat: str = "c1",
    at: datetime = T0,
    network: str = "test",
    thread: str | None = None,
    option: str | None = None,
    group: bool = False,
) -> Incoming:
    return Incoming(
        network,
        chat,
        user,
        text,
        at,
        ChatKind.GROUP if group else ChatKind.DIRECT,
        thread,
        message_id="m1",
        option=option,
    )


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "data"
