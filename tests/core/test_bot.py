"""The chat core as a user meets it: commands, small talk, answers, bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pplbot.core.bot import Bot
from pplbot.core.commands import parse_command
from pplbot.core.messages import ReplyKind
from pplbot.core.sessions import Session, SessionKey
from tests.conftest import T0, incoming


def ask(bot: Bot, text: str, session: Session | None = None) -> tuple[Session, list[ReplyKind], str]:
    session = session or Session(SessionKey("test", "c1", "alice"))
    turn = bot.handle(session, incoming(text))
    return turn.session, [r.kind for r in turn.replies], "\n".join(r.text for r in turn.replies)


@pytest.mark.parametrize(
    ("text", "name", "args"),
    [
        ("/help", "help", ""),
        ("!quiz", "quiz", ""),
        ("/ask@pplbot who wrote it", "ask", "who wrote it"),
        ("/Start quiz", "start", "quiz"),
    ],
)
def test_parse_command(text: str, name: str, args: str) -> None:
    command = parse_command(text)
    assert command is not None and (command.name, command.args) == (name, args)


@pytest.mark.parametrize("text", ["hello /help", "/", "!!", "/ spaced", "/12"])
def test_not_commands(text: str) -> None:
    assert parse_command(text) is None


def test_answer_ends_with_sources(small_bot: Bot) -> None:
    _, kinds, text = ask(small_bot, "who wrote the peer production license?")
    assert kinds == [ReplyKind.ANSWER]
    assert "Kleiner" in text and text.splitlines()[-1].startswith("Sources: PPL header")


def test_section_sources_get_a_section_sign(small_bot: Bot) -> None:
    _, _, text = ask(small_bot, "can a worker co-op sell ppl works")
    assert text.splitlines()[-1] == "Sources: PPL §4(c)(i); PPL §4(c)(ii)"


def test_fallback_says_what_the_bot_can_do(small_bot: Bot) -> None:
    _, kinds, text = ask(small_bot, "what's the weather in Berlin tomorrow?")
    assert kinds == [ReplyKind.FALLBACK]
    assert "[[quiz]]" in text and "[[help]]" in text


def test_suggestions_can_be_picked_by_number(small_kb: object) -> None:
    from pplbot.core.bot import BotOptions
    from pplbot.core.knowledge import KnowledgeBase
    from pplbot.core.matching import Thresholds

    assert isinstance(small_kb, KnowledgeBase)
    never_sure = Thresholds(answer_cutoff=101, answer_cutoff_weak=101, answer_cutoff_unanchored=101, suggest_cutoff=20)
    unsure = Bot(small_kb, BotOptions(thresholds=never_sure))
    s = Session(SessionKey("test", "c1", "alice"))
    turn = unsure.handle(s, incoming("can a co-op or a company use ppl works"))
    (reply,) = turn.replies
    assert reply.kind is ReplyKind.SUGGEST
    assert 2 <= len(reply.options) <= 3
    assert set(reply.suggestions) >= {"coop-commercial", "company-use"}
    picked = reply.options[0].value.split()[1]
    _, kinds, text = ask(unsure, "1", turn.session)
    assert kinds == [ReplyKind.ANSWER]
    assert small_kb.by_id[picked].answer.split()[0] in text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hi", "Hello"),
        ("Hello there!", "Hello"),
        ("thanks!", "welcome"),
        ("merci beaucoup", "welcome"),
        ("bye", "Bye"),
        ("hola", "Hello"),
    ],
)
def test_small_talk(small_bot: Bot, text: str, expected: str) -> None:
    _, kinds, reply = ask(small_bot, text)
    assert kinds == [ReplyKind.SMALLTALK] and expected in reply


@pytest.mark.parametrize("command", ["/help", "/start", "/about", "/sources", "!help"])
def test_info_commands(small_bot: Bot, command: str) -> None:
    _, kinds, text = ask(small_bot, command)
    assert kinds and all(k is ReplyKind.INFO for k in kinds) and text


def test_about_is_three_lines(small_bot: Bot) -> None:
    _, _, text = ask(small_bot, "/about")
    assert len(text.splitlines()) == 3 and "4(c)" in text and "4(d)" in text


def test_ask_command_and_unknown_command(small_bot: Bot) -> None:
    assert ask(small_bot, "/ask who wrote the ppl")[1] == [ReplyKind.ANSWER]
    _, kinds, text = ask(small_bot, "/ask")
    assert kinds == [ReplyKind.INFO] and "[[ask" in text
    _, kinds, text = ask(small_bot, "/frobnicate now")
    assert kinds == [ReplyKind.INFO] and "[[frobnicate]]" in text and "[[help]]" in text


def test_cancel_without_questionnaire(small_bot: Bot) -> None:
    _, _, text = ask(small_bot, "/cancel")
    assert "nothing to cancel" in text


def test_more_on_request(small_kb: object) -> None:
    from pplbot.core.bot import BotOptions
    from pplbot.core.knowledge import KnowledgeBase

    assert isinstance(small_kb, KnowledgeBase)
    bot = Bot(small_kb, BotOptions(detail_on_request=True))
    s, _, text = ask(bot, "who wrote the peer production license?")
    assert "first published" not in text and "more" in text
    _, kinds, text = ask(bot, "more", s)
    assert kinds == [ReplyKind.ANSWER] and "first published" in text


BAD_INPUT = [
    "",
    "   \n\t ",
    "x" * 100_000,
    "what is the ppl " * 7000,
    "\x00\x01\x02\x1b[31mred\x1b[0m\x7f",
    "😀🔥💯 🤖",
    "מה זה רישיון ייצור עמיתים?",
    "ما هي رخصة الإنتاج الند للند؟",
    "?!?!...,,,;;;",
    "/" + "a" * 40,
    "\u202ecod.exe",
    "1",
    "back",
    "<script>alert(1)</script>",
]


@pytest.mark.parametrize("text", BAD_INPUT)
def test_bad_input_gets_a_sensible_reply(small_bot: Bot, text: str) -> None:
    _, kinds, reply = ask(small_bot, text)
    assert kinds and reply.strip()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=500), option=st.one_of(st.none(), st.text(max_size=80)))
def test_any_text_gives_replies_and_never_raises(bot: Bot, text: str, option: str | None) -> None:
    session = Session(SessionKey("test", "c1", "alice"))
    turn = bot.handle(session, incoming(text, option=option))
    assert turn.replies
    assert all(r.text.strip() for r in turn.replies)
    assert turn.session.key == session.key


@settings(max_examples=150, deadline=None)
@given(
    steps=st.lists(
        st.sampled_from(
            [
                "/quiz",
                "1",
                "2",
                "3",
                "yes",
                "no",
                "back",
                "why",
                "restart",
                "cancel",
                "help",
                "who wrote the ppl",
                "7",
                "co-op",
            ]
        ),
        max_size=25,
    )
)
def test_any_sequence_in_the_questionnaire(bot: Bot, steps: list[str]) -> None:
    session = Session(SessionKey("test", "c1", "alice"))
    for n, text in enumerate(steps):
        turn = bot.handle(session, incoming(text, at=T0 + timedelta(seconds=n)))
        assert turn.replies
        session = Session.from_json(session.key, turn.session.to_json())  # survives storage
