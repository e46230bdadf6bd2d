"""Golden transcripts: the whole stack (knowledge files, core, service, SQLite, terminal adapter)
as a user sees it. Lines starting with "> " are typed by the user; everything else is what
pplbot prints. Regenerate after a deliberate content change with PPLBOT_UPDATE_GOLDEN=1 and
review the diff."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from pplbot.core.bot import Bot
from pplbot.core.knowledge import KnowledgeBase
from pplbot.service import Service
from pplbot.store import SqliteStore
from pplbot.transports.console import ConsoleChat
from tests.conftest import T0

TRANSCRIPTS = sorted((Path(__file__).parent / "transcripts").glob("*.txt"))


def play(kb: KnowledgeBase, inputs: list[str], db: Path) -> str:
    out = io.StringIO()
    lines: Iterator[str] = iter(inputs)
    clock = iter(T0 + timedelta(seconds=10 * n) for n in range(10_000))

    def read(prompt: str) -> str | None:
        line = next(lines, None)
        if line is not None:
            out.write(f"> {line}\n")
        return line

    store = SqliteStore(db)
    try:
        ConsoleChat(Service(Bot(kb), store), read, out, clock=lambda: next(clock)).run()
    finally:
        store.close()
    return out.getvalue()


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=[p.stem for p in TRANSCRIPTS])
def test_transcript(kb: KnowledgeBase, path: Path, tmp_path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    header = [line for line in text.splitlines() if line.startswith("#")]
    inputs = [line[2:] for line in text.splitlines() if line.startswith("> ")]
    actual = "\n".join(header) + "\n" + play(kb, inputs, tmp_path / "state.sqlite3")
    if os.environ.get("PPLBOT_UPDATE_GOLDEN"):
        path.write_text(actual, encoding="utf-8")
    assert actual == text


def test_there_are_transcripts() -> None:
    assert len(TRANSCRIPTS) >= 6
