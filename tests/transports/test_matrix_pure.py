"""to_incoming and render on nio event objects built from recorded JSON; sending retries on a fake client."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientConnectionError
from hypothesis import given, settings
from hypothesis import strategies as st
from nio import Event, MatrixRoom, RoomCreateEvent, RoomSendError, RoomSendResponse

from pplbot.config import Settings
from pplbot.core.bot import Bot
from pplbot.core.messages import ChatKind, Option, Reply, ReplyKind
from pplbot.core.questionnaire import button_value
from pplbot.core.sessions import SessionKey
from pplbot.service import Service
from pplbot.store.sqlite import SqliteStore
from pplbot.transports.matrix import EventLedger, MatrixTransport
from pplbot.transports.matrix_events import (
    KEYCAPS,
    LEAVE,
    Context,
    QuestionRef,
    invite_allowed,
    reaction_index,
    render,
    strip_reply_fallback,
    to_incoming,
    too_old,
)
from tests.transports.samples import ALICE, BOB, BOT, ROOM, TS

CTX = Context(BOT, bot_names=("PPL Bot",), prefix="!ppl")
OPTIONS = tuple(button_value("activity", i) for i in range(4))


@dataclass
class FakeKnown:
    bot_events: set[str] = field(default_factory=set)
    questions: dict[str, QuestionRef] = field(default_factory=dict)
    quizzes: set[SessionKey] = field(default_factory=set)
    creators: frozenset[str] = frozenset()

    def is_bot_event(self, event_id: str) -> bool:
        return event_id in self.bot_events

    def question(self, event_id: str) -> QuestionRef | None:
        return self.questions.get(event_id)

    def quiz_running(self, key: SessionKey) -> bool:
        return key in self.quizzes

    def quiz_thread(self, room_id: str, user: str) -> str | None:
        return next((k.thread for k in self.quizzes if k.chat == room_id and k.user == user), None)

    def room_creators(self, room_id: str) -> frozenset[str]:
        return self.creators


def room(*members: str, levels: dict[str, int] | None = None) -> MatrixRoom:
    r = MatrixRoom(ROOM, BOT)
    for user in (BOT, *members):
        r.add_member(user, "PPL Bot" if user == BOT else user[1:].split(":")[0].title(), None)
    r.power_levels.users.update(levels or {})
    return r


DM = room(ALICE)
GROUP = room(ALICE, BOB)


def message(
    body: str, sender: str = ALICE, event_id: str = "$q", msgtype: str = "m.text", extra: dict[str, Any] | None = None
) -> Event:
    source = {
        "type": "m.room.message",
        "event_id": event_id,
        "sender": sender,
        "origin_server_ts": TS,
        "room_id": ROOM,
        "content": {"msgtype": msgtype, "body": body, **(extra or {})},
    }
    return Event.parse_event(source)


def reaction(reacts_to: str, key: str, sender: str = ALICE) -> Event:
    return Event.parse_event(
        {
            "type": "m.reaction",
            "event_id": "$r",
            "sender": sender,
            "origin_server_ts": TS,
            "content": {"m.relates_to": {"rel_type": "m.annotation", "event_id": reacts_to, "key": key}},
        }
    )


def text_of(event: Event, r: MatrixRoom = GROUP, known: FakeKnown | None = None, ctx: Context = CTX) -> str | None:
    incoming = to_incoming(event, r, ctx, known or FakeKnown())
    return None if incoming is None else incoming.text


# ----------------------------------------------------------------- direct chats


def test_direct_message_becomes_incoming() -> None:
    incoming = to_incoming(message("who wrote the ppl?"), DM, CTX, FakeKnown())
    assert incoming is not None
    assert (incoming.network, incoming.chat, incoming.user, incoming.text) == (
        "matrix",
        ROOM,
        ALICE,
        "who wrote the ppl?",
    )
    assert incoming.chat_kind is ChatKind.DIRECT and incoming.thread is None
    assert incoming.message_id == "$q" and incoming.user_name == "Alice"
    assert incoming.received_at == datetime.fromtimestamp(TS / 1000, UTC)
    assert not incoming.is_moderator and incoming.option is None


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ("hello", "hello"),
        ("!ppl what is the ppl", "what is the ppl"),
        ("!ppl help", "/help"),
        ("PPL Bot: more", "/more"),
        ("/quiz", "/quiz"),
        ("2", "2"),
    ],
)
def test_everything_in_a_direct_chat_is_for_the_bot(body: str, text: str) -> None:
    assert text_of(message(body), DM) == text


# ----------------------------------------------------------------- group rooms


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ("lol nice weather", None),
        ("the ppl bot is great", None),
        ("!weather berlin", None),  # another bot's command
        ("!pplx what", None),
        ("!ppl can a worker co-op sell ppl works", "can a worker co-op sell ppl works"),
        ("!PPL: what is copyfarleft", "what is copyfarleft"),
        ("!ppl", ""),
        ("!ppl quiz", "/quiz"),
        ("!ppl ask can I remix it", "/ask can I remix it"),
        ("!ppl why is it non-commercial", "why is it non-commercial"),
        ("!ppl leave", LEAVE),
        ("!help", "!help"),
        ("/sources", "/sources"),
        ("!cancel", "!cancel"),
        ("PPL Bot: what is the ppl", "what is the ppl"),
        ("ppl bot, help", "/help"),
        ("pplbot: who wrote it", "who wrote it"),
        ("@pplbot who wrote it", "who wrote it"),
        (f"{BOT}: who wrote it", "who wrote it"),
        ("pplbots are fun", None),
        ("hey pplbot, who wrote it", "who wrote it"),
        ("Hi @pplbot what is copyfarleft", "what is copyfarleft"),
        ("hola pplbot: ¿quién la escribió?", "¿quién la escribió?"),
        ("ok so then @pplbot, who wrote it", "who wrote it"),  # "@name" within the first words
        ("I asked pplbot yesterday", None),  # a plain name after other words is talk about the bot
        ("we talked about it for a long time and @pplbot knows", None),  # too far in
    ],
)
def test_group_etiquette(body: str, text: str | None) -> None:
    assert text_of(message(body)) == text


def test_group_incoming_is_a_group_message() -> None:
    incoming = to_incoming(message("!ppl what is the ppl"), GROUP, CTX, FakeKnown())
    assert incoming is not None and incoming.chat_kind is ChatKind.GROUP


def test_mentions_and_room_nick() -> None:
    mentioned = message("what do you think?", extra={"m.mentions": {"user_ids": [BOT]}})
    assert text_of(mentioned) == "what do you think?"
    assert text_of(message("what?", extra={"m.mentions": {"user_ids": [BOB]}})) is None
    nicked = room(ALICE, BOB)
    nicked.users[BOT].display_name = "Licence Helper"
    assert text_of(message("Licence Helper: what is the ppl"), nicked) == "what is the ppl"


def test_replies_to_the_bot() -> None:
    known = FakeKnown(bot_events={"$answer"})
    reply = message(
        f"> <{BOT}> The PPL is a copyfarleft licence\n\nmore",
        extra={"m.relates_to": {"m.in_reply_to": {"event_id": "$answer"}}},
    )
    assert text_of(reply, known=known) == "more"
    unknown_but_quoted = message(
        f"> <{BOT}> old answer\n\nthanks", extra={"m.relates_to": {"m.in_reply_to": {"event_id": "$old"}}}
    )
    assert text_of(unknown_but_quoted) == "thanks"
    to_bob = message("> <@bob:other.net> hi\n\nhello", extra={"m.relates_to": {"m.in_reply_to": {"event_id": "$bob"}}})
    assert text_of(to_bob, known=known) is None


def test_threads() -> None:
    relation = {
        "rel_type": "m.thread",
        "event_id": "$root",
        "is_falling_back": True,
        "m.in_reply_to": {"event_id": "$answer"},
    }
    in_thread = message("2", extra={"m.relates_to": relation})
    known = FakeKnown(bot_events={"$answer"})
    assert text_of(in_thread, known=known) is None  # a fallback reply is not a reply to the bot
    known.quizzes.add(SessionKey("matrix", ROOM, ALICE, "$root"))
    incoming = to_incoming(in_thread, GROUP, CTX, known)
    assert incoming is not None and incoming.text == "2" and incoming.thread == "$root"
    assert text_of(message("2", sender=BOB, extra={"m.relates_to": relation}), known=known) is None
    command = to_incoming(message("!ppl what is the ppl", extra={"m.relates_to": relation}), GROUP, CTX, FakeKnown())
    assert command is not None and command.thread == "$root"


def test_questionnaire_answers_outside_the_thread() -> None:
    """Clients without threads: the quiz owner's reply to the question, or a bare option number
    or control word in the main timeline, belongs to the questionnaire's thread."""
    key = SessionKey("matrix", ROOM, ALICE, "$root")
    known = FakeKnown(questions={"$q2": QuestionRef(key, OPTIONS)}, quizzes={key})
    for body, extra in [
        ("2", {}),
        ("back", {}),
        ("zurück", {}),
        ("the second one", {"m.relates_to": {"m.in_reply_to": {"event_id": "$q2"}}}),
    ]:
        incoming = to_incoming(message(body, extra=extra), GROUP, CTX, known)
        assert incoming is not None and incoming.thread == "$root" and incoming.text == body, body
    assert text_of(message("2", sender=BOB), known=known) is None  # not bob's questionnaire
    assert text_of(message("nice weather"), known=known) is None  # chatter stays chatter
    assert text_of(message("2"), known=FakeKnown()) is None  # no questionnaire running
    bob_replies = message("3", sender=BOB, extra={"m.relates_to": {"m.in_reply_to": {"event_id": "$q2"}}})
    assert text_of(bob_replies, known=known) is None


@pytest.mark.parametrize("r", [DM, GROUP], ids=["direct", "group"])
def test_ignored_everywhere(r: MatrixRoom) -> None:
    assert text_of(message("!ppl what is the ppl", sender=BOT), r) is None  # own echo
    assert text_of(message("!ppl what is the ppl", msgtype="m.notice"), r) is None  # another bot
    assert text_of(message("!ppl what", msgtype="m.emote"), r) is None
    edit = message(
        "* !ppl what is the ppl",
        extra={
            "m.new_content": {"msgtype": "m.text", "body": "!ppl what is the ppl"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": "$q0"},
        },
    )
    assert text_of(edit, r) is None
    assert (
        text_of(
            Event.parse_event(
                {
                    "type": "m.room.message",
                    "event_id": "$x",
                    "sender": ALICE,
                    "origin_server_ts": TS,
                    "content": {"msgtype": "m.text", "body": 5},
                }
            ),
            r,
        )
        is None
    )


# ----------------------------------------------------------------- reactions


def test_number_reaction_by_the_quiz_taker_picks_the_option() -> None:
    key = SessionKey("matrix", ROOM, ALICE, "$root")
    known = FakeKnown(questions={"$question": QuestionRef(key, OPTIONS)})
    incoming = to_incoming(reaction("$question", KEYCAPS[1]), GROUP, CTX, known)
    assert incoming is not None
    assert incoming.option == OPTIONS[1] and incoming.text == ""
    assert incoming.thread == "$root" and incoming.message_id == "$question" and incoming.user == ALICE


@pytest.mark.parametrize(
    ("event", "why"),
    [
        (reaction("$question", KEYCAPS[0], sender=BOB), "someone else's questionnaire"),
        (reaction("$question", KEYCAPS[0], sender=BOT), "the bot's own reaction"),
        (reaction("$question", "👍"), "not a number"),
        (reaction("$question", KEYCAPS[5]), "no sixth option"),
        (reaction("$other", KEYCAPS[0]), "not a question"),
    ],
)
def test_other_reactions_are_ignored(event: Event, why: str) -> None:
    known = FakeKnown(questions={"$question": QuestionRef(SessionKey("matrix", ROOM, ALICE), OPTIONS)})
    assert to_incoming(event, GROUP, CTX, known) is None, why


@pytest.mark.parametrize(
    ("key", "index"),
    [("1️⃣", 0), ("9️⃣", 8), ("3\u20e3", 2), ("4", 3), ("0️⃣", None), ("🔟", None), ("👍", None), ("", None)],
)
def test_reaction_index(key: str, index: int | None) -> None:
    assert reaction_index(key) == index


# ----------------------------------------------------------------- moderators


def test_moderators() -> None:
    r = room(ALICE, BOB, levels={ALICE: 50})
    assert to_incoming(message("!ppl leave"), r, CTX, FakeKnown()).is_moderator  # type: ignore[union-attr]
    assert not to_incoming(message("!ppl leave", sender=BOB), r, CTX, FakeKnown()).is_moderator  # type: ignore[union-attr]
    listed = Context(BOT, moderators=frozenset([BOB]))
    assert to_incoming(message("!ppl leave", sender=BOB), r, listed, FakeKnown()).is_moderator  # type: ignore[union-attr]
    no_levels = Context(BOT, power_level_moderators=False)
    assert not to_incoming(message("!ppl leave"), r, no_levels, FakeKnown()).is_moderator  # type: ignore[union-attr]


def test_creators_are_moderators_from_room_version_12() -> None:
    r = room(ALICE, BOB)
    known = FakeKnown(creators=frozenset([BOB]))
    assert not to_incoming(message("!ppl leave", sender=BOB), r, CTX, known).is_moderator  # type: ignore[union-attr]
    create = Event.parse_event(
        {
            "type": "m.room.create",
            "event_id": "$c",
            "sender": BOB,
            "origin_server_ts": TS,
            "state_key": "",
            "content": {"room_version": "12", "m.federate": True},
        }
    )
    assert isinstance(create, RoomCreateEvent)
    r.handle_event(create)
    assert to_incoming(message("!ppl leave", sender=BOB), r, CTX, known).is_moderator  # type: ignore[union-attr]


# ----------------------------------------------------------------- helpers


def test_too_old() -> None:
    sent = datetime.fromtimestamp(TS / 1000, UTC)
    event = message("hi")
    assert not too_old(event, sent + timedelta(minutes=9), timedelta(minutes=10))
    assert too_old(event, sent + timedelta(minutes=11), timedelta(minutes=10))


def test_strip_reply_fallback() -> None:
    assert strip_reply_fallback("> <@a:b> one\n> two\n\nanswer\nmore") == "answer\nmore"
    assert strip_reply_fallback("no quote") == "no quote"
    assert strip_reply_fallback(">not a fallback") == ">not a fallback"


@pytest.mark.parametrize(
    ("allowed", "room_id", "inviter", "ok"),
    [
        ((), ROOM, BOB, True),
        (("example.org",), ROOM, ALICE, True),
        (("example.org",), ROOM, BOB, False),
        ((BOB,), ROOM, BOB, True),
        ((ROOM,), ROOM, BOB, True),
        (("example.org",), ROOM, None, False),
    ],
)
def test_invites_allowed(allowed: tuple[str, ...], room_id: str, inviter: str | None, ok: bool) -> None:
    assert invite_allowed(allowed, room_id, inviter) is ok


def test_event_ledger() -> None:
    store = SqliteStore(":memory:")
    ledger = EventLedger(store)
    assert ledger.claim("$a") and not ledger.claim("$a")
    ledger.remember_sent("$a")  # another kind: no clash with "handled"
    assert ledger.is_bot_event("$a") and not ledger.is_bot_event("$b")
    ref = QuestionRef(SessionKey("matrix", ROOM, ALICE, "$root"), OPTIONS)
    ledger.remember_question("$q", ref)
    assert EventLedger(store).question("$q") == ref and ledger.question("$nope") is None
    store.close()


# ----------------------------------------------------------------- render


def test_render_notice_with_escaped_html_and_reply() -> None:
    content = render(Reply("**Yes** <script>alert(1)</script> & _maybe_\nnext line", reply_to="$q"))
    assert content["msgtype"] == "m.notice"
    assert content["body"] == "Yes <script>alert(1)</script> & maybe\nnext line"
    assert content["format"] == "org.matrix.custom.html"
    assert (
        content["formatted_body"] == "<b>Yes</b> &lt;script&gt;alert(1)&lt;/script&gt; &amp; <i>maybe</i><br>next line"
    )
    assert content["m.relates_to"] == {"m.in_reply_to": {"event_id": "$q"}}
    assert content["m.mentions"] == {}


def test_render_options_as_numbered_list() -> None:
    reply = Reply("Did you mean?", ReplyKind.SUGGEST, (Option("a <b>", "/entry a"), Option("**b**", "/entry b")))
    content = render(reply)
    assert content["body"] == "Did you mean?\n\n1. a <b>\n2. b"
    assert content["formatted_body"] == "Did you mean?<ol><li>a &lt;b&gt;</li><li><b>b</b></li></ol>"
    assert "m.relates_to" not in content


def test_render_question_in_a_thread() -> None:
    question = Reply("**Question 1 of at most 5:** What?", ReplyKind.QUESTION, (Option("x", OPTIONS[0]),), "$q")
    content = render(question, thread="$root", mention=ALICE)
    assert content["m.relates_to"] == {
        "rel_type": "m.thread",
        "event_id": "$root",
        "is_falling_back": False,
        "m.in_reply_to": {"event_id": "$q"},
    }
    assert content["m.mentions"] == {"user_ids": [ALICE]}
    assert "1. x" in content["body"] and "number" in content["body"]  # the answer hint
    unprompted = render(Reply("Expired."), thread="$root")
    assert unprompted["m.relates_to"]["is_falling_back"] is True
    assert unprompted["m.relates_to"]["m.in_reply_to"] == {"event_id": "$root"}


# ----------------------------------------------------------------- robustness

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
KEYS = st.sampled_from(["m.relates_to", "m.mentions", "m.new_content", "format", "formatted_body"])


@settings(max_examples=300, deadline=None)
@given(body=st.text(max_size=30), extra=st.dictionaries(KEYS, JSON, max_size=3), group=st.booleans())
def test_to_incoming_never_raises(body: str, extra: dict[str, Any], group: bool) -> None:
    event = message(body, extra=extra)
    incoming = to_incoming(event, GROUP if group else DM, CTX, FakeKnown(bot_events={"$a"}))
    assert incoming is None or isinstance(incoming.text, str)


# ----------------------------------------------------------------- sending (a fake client, no network)


class FakeClient:
    """Answers room_send from a script: an exception, an error response or an event id."""

    def __init__(self, *script: object) -> None:
        self.script = list(script)
        self.txns: list[str | None] = []

    async def room_send(self, room_id: str, event_type: str, content: dict[str, Any], **kw: Any) -> object:
        self.txns.append(kw.get("tx_id"))
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step


def transport(bot: Bot, tmp_path: Path) -> MatrixTransport:
    store = SqliteStore(":memory:")
    settings = Settings(
        knowledge_dir=tmp_path, data_dir=tmp_path, matrix_homeserver="http://127.0.0.1:9", matrix_user_id=BOT
    )
    return MatrixTransport(Service(bot, store), settings, store, retry_delay=0.01)


async def test_a_failed_send_is_retried_three_times_then_logged(
    small_bot: Bot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    t = transport(small_bot, tmp_path)
    t.client = FakeClient(*[ClientConnectionError("down")] * 3)
    assert await t._send(ROOM, "m.room.message", {"body": "x"}) is None
    assert len(t.client.txns) == 3 and len(set(t.client.txns)) == 1  # one transaction id: no duplicates
    assert "gave up" in caplog.text


async def test_rate_limits_wait_and_do_not_count_as_failures(small_bot: Bot, tmp_path: Path) -> None:
    t = transport(small_bot, tmp_path)
    limited = RoomSendError.from_dict({"errcode": "M_LIMIT_EXCEEDED", "error": "slow", "retry_after_ms": 20}, ROOM)
    ok = RoomSendResponse.from_dict({"event_id": "$sent"}, ROOM)
    t.client = FakeClient(ClientConnectionError("blip"), limited, limited, limited, ok)
    started = time.monotonic()
    assert await t._send(ROOM, "m.room.message", {"body": "x"}) == "$sent"
    assert time.monotonic() - started >= 0.06  # three waits of retry_after_ms
