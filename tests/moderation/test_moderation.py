"""Moderators keep the answers right: kb commands, permissions, hot reload, edits, undo, unanswered."""

from __future__ import annotations

import asyncio
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from pplbot.app import compose
from pplbot.config import load_settings
from pplbot.core.messages import Incoming, ReplyKind
from pplbot.moderation.live import LiveKnowledge
from pplbot.service import Service
from pplbot.store import SqliteStore
from tests.conftest import KNOWLEDGE, T0, incoming

COMMANDS = [
    "kb show lic-authors",
    "kb search who wrote it",
    "kb teach lic-authors who penned the ppl",
    "kb answer lic-authors\nNew answer.",
    "kb add new-entry\nq?\nanswer\nSource: PPL 3",
    "kb remove lic-authors",
    "kb undo",
    "kb history",
    "kb unanswered",
    "kb purge-unanswered",
    "kb stats",
    "kb reload",
]


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Service, LiveKnowledge, Path, SqliteStore]:
    knowledge = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, knowledge)
    settings = load_settings({"PPLBOT_KNOWLEDGE_DIR": str(knowledge), "PPLBOT_DATA_DIR": str(tmp_path / "data")})
    store = SqliteStore(settings.database)
    service, live = compose(settings, store)
    return service, live, knowledge, store


def mod(text: str, *, moderator: bool = True, minutes: int = 0, user: str = "mia") -> Incoming:
    from dataclasses import replace

    return replace(
        incoming(text, user=user, at=T0 + timedelta(minutes=minutes)), is_moderator=moderator, user_name="Mia"
    )


def say(service: Service, text: str, **kw: object) -> str:
    """Moderator commands start with ! or / like every command; tests write them as "kb ..."."""
    text = "!" + text if text.startswith("kb ") else text
    return "\n".join(r.text for r in service.handle(mod(text, **kw)))  # type: ignore[arg-type]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_kb_command_is_refused_for_non_moderators(
    setup: tuple[Service, LiveKnowledge, Path, SqliteStore], command: str, caplog: pytest.LogCaptureFixture
) -> None:
    service, live, knowledge, _ = setup
    before = {p: p.read_text() for p in knowledge.rglob("*.yaml")}
    reply = say(service, command, moderator=False)
    assert "only moderators" in reply
    assert {p: p.read_text() for p in knowledge.rglob("*.yaml")} == before
    assert "refused kb command from a non-moderator" in caplog.text


def test_show_search_and_stats(setup: tuple[Service, LiveKnowledge, Path, SqliteStore]) -> None:
    service, live, _, _ = setup
    shown = say(service, "kb show lic-authors")
    assert "lic-authors" in shown and "knowledge/faq/" in shown and "Kleiner" in shown
    found = say(service, "kb search who wrote the peer production license")
    assert "I would: answer" in found and "lic-authors" in found and "matching phrase" in found
    say(service, "who wrote the peer production license?")
    say(service, "what's the weather on mars")
    stats = say(service, "kb stats")
    assert f"version {live.current.kb.version}" in stats and "answered 1 (50%)" in stats and "fallback 1 (50%)" in stats
    assert "There is no entry" in say(service, "kb show nope")
    assert "Moderator commands" in say(service, "kb frobnicate")


def test_teach_keeps_comments_and_key_order_and_records_audit(
    setup: tuple[Service, LiveKnowledge, Path, SqliteStore],
) -> None:
    service, live, knowledge, store = setup
    path = knowledge / "questionnaire.yaml"  # has comments; FAQ files too
    faq = knowledge.parent / live.current.kb.by_id["lic-authors"].file
    original = faq.read_text()
    faq.write_text("# curated by the moderators\n" + original)
    assert live.reload() is None
    reply = say(service, "kb teach lic-authors who penned the peer production licence, originally")
    assert "Taught lic-authors" in reply
    edited = faq.read_text()
    assert edited.startswith("# curated by the moderators\n")
    assert "who penned the peer production licence, originally" in edited
    keys_before = [
        line.strip().split(":")[0] for line in original.splitlines() if line.startswith("    ") and ":" in line
    ][:20]
    keys_after = [
        line.strip().split(":")[0] for line in edited.splitlines() if line.startswith("    ") and ":" in line
    ][:20]
    assert keys_before[:5] == keys_after[:5]
    assert len(edited.splitlines()) - len(original.splitlines()) == 2  # the comment and the phrase
    (record,) = store.audit()
    assert (record.action, record.entry, record.network, record.who) == ("teach", "lic-authors", "test", "Mia [mia]")
    assert record.before != record.after
    # the new phrase answers at once
    answer = service.handle(incoming("who penned the peer production licence originally"))
    assert answer[0].entry_id == "lic-authors"
    assert path.exists()


def test_answer_undo_history_add_remove(setup: tuple[Service, LiveKnowledge, Path, SqliteStore]) -> None:
    service, live, knowledge, store = setup
    assert "Saved the new answer" in say(
        service, "kb answer lic-authors\nDmytri Kleiner and John Magyar wrote it.\nSee the header."
    )
    reply = service.handle(incoming("who wrote the peer production license?"))
    assert reply[0].text.startswith("Dmytri Kleiner and John Magyar wrote it.")
    assert "Undid answer of lic-authors" in say(service, "kb undo")
    reply = service.handle(incoming("who wrote the peer production license?"))
    assert not reply[0].text.startswith("Dmytri Kleiner and John Magyar wrote it.")
    assert "Added zine-faq" in say(
        service,
        "kb add zine-faq\ncan I print a PPL zine for our reading group?\nNon-commercial copies are allowed under 4(b).\nSource: PPL 4(b)",
    )
    assert (knowledge / "faq" / "added-in-chat.yaml").exists()
    assert "Not saved" in say(service, "kb add zine-faq\nq\na\nSource: PPL 3")
    assert "Usage" in say(service, "kb add other\nonly a question")
    assert "Removed zine-faq" in say(service, "kb remove zine-faq")
    history = say(service, "kb history")
    assert history.index("remove zine-faq") < history.index("add zine-faq") < history.index("answer lic-authors")
    assert "remove zine-faq" in say(service, "kb history zine-faq")


def test_invalid_edit_is_refused_and_nothing_written(setup: tuple[Service, LiveKnowledge, Path, SqliteStore]) -> None:
    service, live, knowledge, _ = setup
    before = {p: p.read_text() for p in knowledge.rglob("*.yaml")}
    other = live.current.kb.entries[5]
    reply = say(service, f"kb teach lic-authors {other.questions[0]}")
    assert "would break the knowledge base" in reply and "is the same as one in entry" in reply
    assert {p: p.read_text() for p in knowledge.rglob("*.yaml")} == before


def test_outside_change_racing_a_chat_edit_is_refused(setup: tuple[Service, LiveKnowledge, Path, SqliteStore]) -> None:
    service, live, knowledge, _ = setup
    faq = knowledge.parent / live.current.kb.by_id["lic-authors"].file
    outside = faq.read_text() + "\n# an editor's change\n"
    faq.write_text(outside)
    reply = say(service, "kb teach lic-authors who authored the ppl text, really")
    assert "changed on disk since I loaded it" in reply and "kb reload" in reply
    assert faq.read_text() == outside  # nothing lost
    assert "Reloaded" in say(service, "kb reload")
    assert "Taught" in say(service, "kb teach lic-authors who authored the ppl text, really")
    assert "# an editor's change" in faq.read_text()


def test_unanswered_grouping_teaching_and_purge(setup: tuple[Service, LiveKnowledge, Path, SqliteStore]) -> None:
    service, _, _, store = setup
    for n, text in enumerate(
        [
            "how do i frobnicate a zorblax",
            "how to frobnicate zorblax?",
            "frobnicate the zorblax pls",
            "what is a quibbleflux",
        ]
    ):
        service.handle(incoming(text, user=f"u{n}", chat=f"c{n % 2}"))
    listing = say(service, "kb unanswered")
    lines = listing.splitlines()
    assert "#1 (3×, 2 chats)" in lines[1] and "frobnicate" in lines[1]
    assert "#2 (1×, 1 chat)" in lines[2] and "quibbleflux" in lines[2]
    stored = store.events("unanswered")
    assert all(e.user_hash and "u0" not in e.user_hash for e in stored)  # users only as a salted hash
    assert "Taught lic-authors" in say(service, "kb teach lic-authors #2")
    assert service.handle(incoming("what is a quibbleflux"))[0].entry_id == "lic-authors"
    assert "no #9" in say(service, "kb teach lic-authors #9")
    assert "Deleted 4 unanswered" in say(service, "kb purge-unanswered") or "Deleted" in say(
        service, "kb purge-unanswered"
    )
    assert "No unanswered questions" in say(service, "kb unanswered")


def test_unanswered_older_than_retention_are_dropped(setup: tuple[Service, LiveKnowledge, Path, SqliteStore]) -> None:
    service, _, _, store = setup
    service.handle(incoming("how do i frobnicate a zorblax"))
    assert len(store.events("unanswered")) == 1
    listing = say(service, "kb unanswered", minutes=91 * 24 * 60)
    assert "No unanswered questions" in listing and not store.events("unanswered")


async def test_broken_file_on_disk_keeps_serving_and_reports(
    setup: tuple[Service, LiveKnowledge, Path, SqliteStore],
) -> None:
    service, live, knowledge, _ = setup
    reports: list[str] = []

    async def notify(text: str) -> None:
        reports.append(text)

    live.notifiers.append(notify)
    version = live.current.kb.version
    stop = asyncio.Event()
    watcher = asyncio.create_task(live.watch(stop, interval=0.05, debounce=0.05))
    await asyncio.sleep(0.1)
    (knowledge / "faq" / "broken.yaml").write_text("entries:\n  - id: broken\n    questions: [x, y\n", encoding="utf-8")
    for _ in range(100):
        if reports:
            break
        await asyncio.sleep(0.05)
    assert reports and "knowledge/faq/broken.yaml:" in reports[0] and version in reports[0]
    assert live.current.kb.version == version
    assert service.handle(incoming("who wrote the peer production license?"))[0].kind is ReplyKind.ANSWER
    assert "last reload failed" in say(service, "kb stats")
    # fixing the file reloads
    (knowledge / "faq" / "broken.yaml").unlink()
    (knowledge / "faq" / "fine.yaml").write_text(
        'entries:\n  - id: brand-new\n    questions: ["what is the zorblax clause"]\n    answer: "There is none."\n    sources: ["PPL 8(e)"]\n',
        encoding="utf-8",
    )
    for _ in range(100):
        if live.current.kb.version != version:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await watcher
    assert "brand-new" in live.current.kb.by_id
    assert service.handle(incoming("what is the zorblax clause"))[0].entry_id == "brand-new"


def test_kb_lint_cli(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from pplbot.moderation.lint import lint

    root = tmp_path / "knowledge"
    root.mkdir()
    (root / "a.yaml").write_text(
        "entries:\n"
        '  - id: a\n    questions: ["can a coop sell ppl books", "x1", "x2", "x3", "x4"]\n    answer: "A."\n    sources: ["PPL 4(c)"]\n'
        '  - id: b\n    questions: ["can a coop sell the ppl bookz"]\n    answer: "B."\n    sources: ["PPL 4(b)"]\n',
        encoding="utf-8",
    )
    assert lint(root) == 1
    out = capsys.readouterr().out
    assert "near-duplicate" in out and "only 1 paraphrase" in out


def test_round_trip_of_every_curated_file_is_byte_identical() -> None:
    import io

    from pplbot.moderation.editing import _yaml

    for path in KNOWLEDGE.rglob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        yaml = _yaml()
        out = io.StringIO()
        yaml.dump(yaml.load(text), out)
        assert out.getvalue() == text, path


def test_every_command_through_the_terminal_adapter(tmp_path: Path) -> None:
    import io

    from pplbot.transports.console import ConsoleChat

    knowledge = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, knowledge)
    settings = load_settings({"PPLBOT_KNOWLEDGE_DIR": str(knowledge), "PPLBOT_DATA_DIR": str(tmp_path / "data")})
    store = SqliteStore(settings.database)
    service, live = compose(settings, store)
    lines = iter(
        [
            "how do i frobnicate a zorblax",
            "/kb show lic-authors",
            "/kb search who wrote the ppl",
            "/kb unanswered",
            "/kb teach lic-authors #1",
            "/kb answer lic-authors The PPL was written by Dmytri Kleiner and John Magyar.",
            "/kb add zine-faq",  # a usage reply: the terminal has one line per message
            "/kb undo",
            "/kb remove coop-coopyright",
            "/kb history",
            "/kb stats",
            "/kb purge-unanswered",
            "/kb reload",
        ]
    )
    out = io.StringIO()
    ConsoleChat(service, lambda prompt: next(lines, None), out, live=live).run()
    text = out.getvalue()
    for expected in [
        "Questions:",
        "I would: answer",
        "#1 (1×, 1 chat) how do i frobnicate a zorblax",
        "Taught lic-authors: “how do i frobnicate a zorblax”",
        "Saved the new answer of lic-authors",
        "Usage: kb add ID",
        "Undid answer of lic-authors",
        "Removed coop-coopyright",
        "remove coop-coopyright",
        "Knowledge base version",
        "Deleted",
        "Reloaded: version",
    ]:
        assert expected in text, expected
    store.close()


def test_lint_flags_a_verdict_lead_over_paraphrases_of_opposite_polarity() -> None:
    from pplbot.moderation.lint import opposite_polarity, verdict_lead

    questions = ("can a company use ppl works internally", "does 4(d) ban companies from any use")
    assert opposite_polarity(questions) == questions
    assert verdict_lead("You can use it internally, but ...")
    assert verdict_lead("It is not allowed for companies ...")
    assert verdict_lead("Not for a company with wage staff ...")
    assert not verdict_lead("Section 4(d) bars any use by a privately owned business that lives off wage labour.")
    assert not verdict_lead("Whether a company may use it depends on who owns it.")
    assert opposite_polarity(("can a co-op sell ppl works", "can a freelancer sell them")) is None
