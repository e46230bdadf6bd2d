"""Property tests of the whole Matrix message path, without a network.

Arbitrary text and arbitrary (also malformed) event shapes are built as dicts, parsed by
matrix-nio (`Event.parse_event`, `SyncResponse.from_dict`) and sent through `to_incoming` ->
`Service.handle` (a real Service: the real knowledge base, `Bot(kb)`, `MemoryStore()`) -> `render`,
with the bookkeeping `MatrixTransport._deliver` does in between (questions move into a thread, the
bot's event ids and questions are remembered), so questionnaires, thread answers and number
reactions are reached too. Checked:

* nothing raises out of the pure helpers (to_incoming, too_old, render, reaction_index,
  strip_reply_fallback, invite_allowed, is_moderator) or the service;
* every `formatted_body` is well-formed HTML (html.parser): only tags (and attributes) Matrix
  clients allow in org.matrix.custom.html, all tags balanced and properly nested, every `<`, `>`
  and `&` part of a tag or an entity, so user-supplied `<`, `>`, `&` are always escaped;
* `body` is the plain text a reader of the HTML sees (no tags, no entities, no markup);
* the content is an m.notice that JSON-encodes, replies to the message and stays in its thread.

Bugs these properties found (out-of-range timestamps, mis-nested bold/italic) are fixed and
guarded by the regression tests at the end.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import event as note
from hypothesis import strategies as st
from nio import Event, InviteMemberEvent, MatrixRoom, SyncResponse

from pplbot.core import texts as bot_texts
from pplbot.core.bot import Bot
from pplbot.core.knowledge import KnowledgeBase
from pplbot.core.messages import ChatKind, Incoming, Option, Reply, ReplyKind
from pplbot.core.sessions import SessionKey
from pplbot.service import Service
from pplbot.store.memory import MemoryStore
from pplbot.store.sqlite import SqliteStore
from pplbot.transports.matrix import LEAVING, NOT_MODERATOR, EventLedger, _Known
from pplbot.transports.matrix_events import (
    KEYCAPS,
    LEAVE,
    Context,
    QuestionRef,
    invite_allowed,
    is_moderator,
    reaction_index,
    render,
    strip_reply_fallback,
    to_incoming,
    too_old,
)
from tests.transports.samples import ALICE, BOB, BOT, ROOM, TS

NOW = datetime.fromtimestamp(TS / 1000, UTC) + timedelta(seconds=30)
MAX_TS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z; see test_far_future_timestamps_are_not_raised
CTX = Context(BOT, bot_names=("PPL Bot",), prefix="!ppl")
FUZZ = settings(deadline=None, max_examples=200, suppress_health_check=[HealthCheck.too_slow])

# --------------------------------------------------------------------------- the HTML check

# org.matrix.custom.html: the tags and attributes the client-server spec lets clients render.
ALLOWED: dict[str, frozenset[str]] = {
    tag: frozenset()
    for tag in (
        "del h1 h2 h3 h4 h5 h6 blockquote p ul li b i u strong em s code hr br div table thead tbody "
        "tr th td caption pre sup sub details summary mx-reply"
    ).split()
}
ALLOWED |= {
    "font": frozenset({"color", "data-mx-bg-color", "data-mx-color"}),
    "span": frozenset({"data-mx-bg-color", "data-mx-color", "data-mx-spoiler", "data-mx-maths"}),
    "a": frozenset({"name", "target", "href"}),
    "img": frozenset({"width", "height", "alt", "title", "src"}),
    "ol": frozenset({"start"}),
    "code": frozenset({"class"}),
    "div": frozenset({"data-mx-maths"}),
}
VOID = frozenset({"br", "hr", "img"})
_NOT_AN_ENTITY = re.compile(r"&(?!(?:amp|lt|gt|quot|#[0-9]+|#x[0-9a-fA-F]+);)")


class HtmlCheck(HTMLParser):
    """Collects problems with a formatted_body and the text it shows (as `render` lays it out:
    <br> is a line break, list items are "n. label" lines after a blank line)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.open: list[str] = []
        self.tags = 0
        self.shown: list[str] = []
        self._items = 0
        self._after_list = False

    def _line_after_list(self) -> None:
        if self._after_list:
            self.shown.append("\n")
            self._after_list = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags += 1
        self._line_after_list()
        if tag not in ALLOWED:
            self.problems.append(f"tag <{tag}> is not allowed")
        for name, _ in attrs:
            if name not in ALLOWED.get(tag, frozenset()):
                self.problems.append(f"attribute {name} of <{tag}> is not allowed")
        if tag == "br":
            self.shown.append("\n")
        elif tag == "ol":
            self.shown.append("\n\n")
            self._items = 0
        elif tag == "li":
            self._items += 1
            self.shown.append(("\n" if self._items > 1 else "") + f"{self._items}. ")
        if tag not in VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags += 1
        if tag not in VOID:
            self.problems.append(f"<{tag}/> is not a void element")
        self.handle_starttag(tag, attrs)
        self.tags -= 1

    def handle_endtag(self, tag: str) -> None:
        self.tags += 1
        if tag in VOID:
            self.problems.append(f"</{tag}> closes a void element")
        elif not self.open or self.open[-1] != tag:
            self.problems.append(f"</{tag}> does not close the open <{self.open[-1] if self.open else '-'}>")
        else:
            self.open.pop()
        if tag == "ol":
            self._after_list = True

    def handle_data(self, data: str) -> None:
        self._line_after_list()
        self.shown.append(data)

    def handle_comment(self, data: str) -> None:
        self.problems.append(f"comment <!--{data}-->")

    def handle_decl(self, decl: str) -> None:
        self.problems.append(f"declaration <!{decl}>")

    def handle_pi(self, data: str) -> None:
        self.problems.append(f"processing instruction <?{data}>")

    def unknown_decl(self, data: str) -> None:
        self.problems.append(f"unknown declaration {data}")


def html_problems(formatted: str, *, balanced: bool = True) -> tuple[list[str], str]:
    """The problems of `formatted` and the text it shows."""
    check = HtmlCheck()
    check.feed(formatted)
    check.close()
    problems = [p for p in check.problems if balanced or "does not close" not in p]
    if balanced and check.open:
        problems.append(f"unclosed {check.open}")
    # Every <, > and & must belong to a tag or an entity: nothing the user typed is left raw.
    if formatted.count("<") != check.tags or formatted.count(">") != check.tags:
        problems.append(f"raw < or > outside tags ({formatted.count('<')} <, {check.tags} tags)")
    if _NOT_AN_ENTITY.search(formatted):
        problems.append("raw & outside an entity")
    return problems, "".join(check.shown)


def check_content(
    content: dict[str, Any], reply: Reply, *, thread: str | None, mention: str | None, exact: bool = True
) -> None:
    """One rendered m.room.message content, as sent for `reply`."""
    assert content["msgtype"] == "m.notice"
    assert content["format"] == "org.matrix.custom.html"
    body, formatted = content["body"], content["formatted_body"]
    assert isinstance(body, str) and isinstance(formatted, str)
    problems, shown = html_problems(formatted, balanced=exact)
    assert not problems, (problems, formatted)
    if exact:
        assert body == shown, "body is not the text the HTML shows"
    typed = [reply.text, *(o.label for o in reply.options)]
    for char in "<>&":  # every one typed is shown as a character, in the HTML (escaped) and in the body
        assert shown.count(char) == body.count(char) >= sum(t.count(char) for t in typed), char
    json.dumps(content, ensure_ascii=False).encode("utf-8")  # what nio sends
    relates: Any = content.get("m.relates_to")
    if thread is not None:
        assert relates["rel_type"] == "m.thread" and relates["event_id"] == thread
        assert relates["m.in_reply_to"]["event_id"] == (reply.reply_to or thread)
    elif reply.reply_to is not None:
        assert relates == {"m.in_reply_to": {"event_id": reply.reply_to}}
    else:
        assert relates is None
    assert content["m.mentions"] == ({"user_ids": [mention]} if mention else {})


# --------------------------------------------------------------------------- the path, as the transport runs it


@dataclass
class Known:
    """`matrix_events.Known` as `MatrixTransport` keeps it, in memory, over the real service."""

    service: Service
    sent: list[str] = field(default_factory=list)
    questions: dict[str, QuestionRef] = field(default_factory=dict)
    creators: frozenset[str] = frozenset()

    def is_bot_event(self, event_id: str) -> bool:
        return event_id in self.sent

    def question(self, event_id: str) -> QuestionRef | None:
        return self.questions.get(event_id)

    def quiz_running(self, key: SessionKey) -> bool:
        session = self.service.session(key)
        return session is not None and session.quiz is not None

    def quiz_thread(self, room_id: str, user: str) -> str | None:
        threads = [r.key.thread for r in self.questions.values() if r.key.chat == room_id and r.key.user == user]
        thread = threads[-1] if threads else None
        return thread if thread and self.quiz_running(SessionKey("matrix", room_id, user, thread)) else None

    def room_creators(self, room_id: str) -> frozenset[str]:
        return self.creators


def deliver(service: Service, known: Known, incoming: Incoming) -> list[Reply]:
    """`MatrixTransport._on_event` after to_incoming, with sending replaced by checking."""
    if incoming.text == LEAVE:
        replies = [Reply(LEAVING if incoming.is_moderator else NOT_MODERATOR, reply_to=incoming.message_id)]
    else:
        replies = service.handle(incoming)
    assert replies, "every message for the bot gets an answer"
    key = SessionKey.of(incoming)
    thread = incoming.thread
    group = incoming.chat_kind is ChatKind.GROUP
    for reply in replies:
        if reply.kind is ReplyKind.QUESTION and group and thread is None and incoming.message_id:
            thread = incoming.message_id
            new_key = replace(key, thread=thread)
            service.move_session(key, new_key)
            key = new_key
        mention = incoming.user if group else None
        note(
            f"reply: {reply.kind.value}{' in a thread' if thread else ''}{' to a reaction' if incoming.option else ''}"
        )
        content = render(reply, thread=thread, mention=mention)
        check_content(content, reply, thread=thread, mention=mention)
        event_id = f"$b{len(known.sent)}"
        known.sent.append(event_id)
        if reply.kind is ReplyKind.QUESTION and reply.options:
            known.questions[event_id] = QuestionRef(key, tuple(o.value for o in reply.options))
            service.set_quiz_message(key, event_id)
    return replies


def make_room(group: bool, bot_nick: str | None, names: tuple[str | None, str | None]) -> MatrixRoom:
    room = MatrixRoom(ROOM, BOT)
    room.add_member(BOT, bot_nick, None)
    room.add_member(ALICE, names[0], None)
    if group:
        room.add_member(BOB, names[1], None)
    room.power_levels.users[ALICE] = 100
    return room


def parse(source: dict[str, Any]) -> Event | None:
    """nio's parse, as its sync does. An exception there is nio's (its sync would fail before
    pplbot sees anything), so that event is skipped."""
    try:
        return Event.parse_event(source)
    except Exception:
        return None


# --------------------------------------------------------------------------- strategies

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
SPICY = st.sampled_from([*"<>&\"'*_!/@:#;\n\t >1234 ", "**", "_x_", "&amp;", "&lt;", "<b>", "</b>", "<br>", "\u202e"])
TEXT = st.lists(st.text(max_size=6) | SPICY, max_size=12).map("".join)
COMMON = st.sampled_from(
    [
        "!ppl who wrote the peer production license",
        "!ppl can a worker co-op sell ppl works",
        "!ppl what is copyfarleft",
        "!ppl quiz",
        "!ppl help",
        "!ppl more",
        "!ppl leave",
        "!ppl",
        "/quiz",
        "!check",
        "/ask is the ppl <open> source & free?",
        "PPL Bot: what is the ppl",
        "pplbot, <script>alert(1)</script>",
        "1",
        "2",
        "3",
        "4",
        "9",
        "co-op",
        "yes",
        "back",
        "why",
        "restart",
        "cancel",
        "more",
        "hello",
        "thanks",
        f"> <{BOT}> an answer\n\nmore",
        "/a-_b_",
        "/x<y",
    ]
)
BODY = COMMON | TEXT | st.builds(str.__add__, st.sampled_from(["!ppl ", "/ask ", "PPL Bot: ", "@pplbot ", "/"]), TEXT)
TARGET = st.sampled_from(["$e0", "$e1", "$e2", "$b0", "$b1", "$b2", "$b3", "", "$nope"]) | JSON
BOT_EVENT = st.sampled_from([f"$b{k}" for k in range(6)])  # the ids `deliver` gives the bot's replies
ANSWER = st.sampled_from(["1", "2", "3", "4", "5", "back", "why", "cancel", "restart", "help", "co-op", "yep"])


def sometimes_junk(strategy: st.SearchStrategy[Any], one_in: int = 8) -> st.SearchStrategy[Any]:
    """`strategy`, or arbitrary JSON in its place about one time in `one_in`."""
    return st.sampled_from([True] * (one_in - 1) + [False]).flatmap(lambda keep: strategy if keep else JSON)


def _representable(value: object) -> bool:
    """Not an integer beyond year 9999 (those raise: test_far_future_timestamps_are_not_raised)."""
    return not isinstance(value, int) or value <= MAX_TS


@st.composite
def junk_relation(draw: st.DrawFn) -> object:
    kind = draw(st.sampled_from(["thread", "reply", "fallback", "replace", "annotation", "junk"]))
    target = draw(TARGET)
    if kind == "thread":
        return {"rel_type": "m.thread", "event_id": target, "is_falling_back": draw(JSON)}
    if kind == "fallback":
        return {
            "rel_type": "m.thread",
            "event_id": target,
            "is_falling_back": draw(st.booleans()),
            "m.in_reply_to": {"event_id": draw(TARGET)},
        }
    if kind == "reply":
        return {"m.in_reply_to": draw(st.fixed_dictionaries({"event_id": TARGET}) | JSON)}
    if kind == "replace":
        return {"rel_type": "m.replace", "event_id": target}
    if kind == "annotation":
        return {"rel_type": "m.annotation", "event_id": target, "key": draw(st.sampled_from(KEYCAPS) | JSON)}
    return draw(JSON)


@st.composite
def broken_event(draw: st.DrawFn, index: int) -> dict[str, Any]:
    """Something a broken client or server might send: odd types, msgtypes, content and keys."""
    etype = draw(st.sampled_from(["m.room.message"] * 4 + ["m.reaction", "m.room.member", "m.sticker", "x"]))
    content: object = {
        "msgtype": draw(st.sampled_from(["m.text", "m.notice", "m.emote", "m.image"]) | JSON),
        "body": draw(BODY | JSON),
    }
    extra = st.sampled_from(["m.relates_to", "m.mentions", "m.new_content", "format", "formatted_body"])
    for key in draw(st.sets(extra, max_size=3)):
        assert isinstance(content, dict)
        content[key] = draw(junk_relation()) if key == "m.relates_to" else draw(JSON | TEXT)
    if draw(st.booleans()):
        content = draw(JSON)
    source: dict[str, Any] = {
        "type": etype,
        "event_id": draw(st.just(f"$e{index}") | JSON),
        "sender": draw(st.sampled_from([ALICE, BOB, BOT, "", "not-a-user"]) | JSON),
        "origin_server_ts": draw(st.integers(0, MAX_TS) | JSON.filter(_representable)),
        "content": content,
    }
    if etype == "m.room.member":
        source["state_key"] = draw(st.sampled_from([BOT, ALICE, ""]) | JSON)
    for key in draw(st.sets(st.sampled_from(list(source)), max_size=2)):
        del source[key]
    return source


@st.composite
def event_source(draw: st.DrawFn, index: int) -> dict[str, Any]:
    """Mostly what a Matrix client sends (messages, thread answers, replies, number reactions
    aimed at earlier events and at the bot's replies), sometimes something broken."""
    if not draw(st.integers(0, 5)):
        return draw(broken_event(index))
    sender = draw(st.sampled_from([ALICE, ALICE, ALICE, BOB]))
    earlier = st.sampled_from([f"$e{j}" for j in range(max(index, 1))])
    if not draw(st.integers(0, 3)):
        relates: dict[str, Any] = {
            "rel_type": "m.annotation",
            "event_id": draw(BOT_EVENT),
            "key": draw(st.sampled_from(KEYCAPS[:5]) | TEXT),
        }
        return {
            "type": "m.reaction",
            "event_id": f"$e{index}",
            "sender": sender,
            "origin_server_ts": TS + index,
            "content": {"m.relates_to": relates},
        }
    shape = draw(st.sampled_from(["plain", "plain", "thread", "thread", "reply", "thread reply", "mention"]))
    content: dict[str, Any] = {"msgtype": "m.text", "body": draw(ANSWER | BODY if shape.startswith("thread") else BODY)}
    if shape.startswith("thread"):
        content["m.relates_to"] = {
            "rel_type": "m.thread",
            "event_id": draw(earlier),
            "is_falling_back": shape == "thread",
            "m.in_reply_to": {"event_id": draw(BOT_EVENT)},
        }
    elif shape == "reply":
        content["m.relates_to"] = {"m.in_reply_to": {"event_id": draw(BOT_EVENT)}}
        if draw(st.booleans()):
            content["body"] = f"> <{BOT}> an earlier answer\n> second line\n\n{content['body']}"
    elif shape == "mention":
        content["m.mentions"] = {"user_ids": draw(st.lists(st.sampled_from([BOT, ALICE]), max_size=2))}
    return {
        "type": "m.room.message",
        "event_id": f"$e{index}",
        "sender": sender,
        "origin_server_ts": TS + index,
        "content": content,
    }


@st.composite
def conversations(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A few events in one room; half of them start with Alice opening a questionnaire."""
    quiz = draw(st.booleans())
    events = [draw(event_source(i)) for i in range(int(quiz), int(quiz) + draw(st.integers(1, 7)))]
    if quiz:
        body = draw(st.sampled_from(["!ppl quiz", "/quiz", "!ppl check", "PPL Bot: quiz"]))
        first = {
            "type": "m.room.message",
            "event_id": "$e0",
            "sender": ALICE,
            "origin_server_ts": TS,
            "content": {"msgtype": "m.text", "body": body},
        }
        events.insert(0, first)
    return events


NICK = st.none() | st.sampled_from(["PPL Bot", "ppl", "<b>Bot</b>", "", " ", "!ppl", "*"]) | TEXT


# --------------------------------------------------------------------------- properties


@pytest.fixture(scope="module")
def real_bot(kb: KnowledgeBase) -> Bot:
    return Bot(kb)


@pytest.fixture(scope="module")
def ledger() -> Iterator[EventLedger]:
    store = SqliteStore(":memory:")
    yield EventLedger(store)
    store.close()


@FUZZ
@given(events=conversations(), group=st.booleans(), nick=NICK, names=st.tuples(NICK, NICK))
@example(  # a questionnaire in a group room: started, answered in its thread, then by reaction
    events=[
        {
            "type": "m.room.message",
            "event_id": "$e0",
            "sender": ALICE,
            "origin_server_ts": TS,
            "content": {"msgtype": "m.text", "body": "!ppl quiz"},
        },
        {
            "type": "m.room.message",
            "event_id": "$e1",
            "sender": ALICE,
            "origin_server_ts": TS,
            "content": {
                "msgtype": "m.text",
                "body": "2",
                "m.relates_to": {
                    "rel_type": "m.thread",
                    "event_id": "$e0",
                    "is_falling_back": True,
                    "m.in_reply_to": {"event_id": "$b0"},
                },
            },
        },
        {
            "type": "m.reaction",
            "event_id": "$e2",
            "sender": ALICE,
            "origin_server_ts": TS,
            "content": {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$b1", "key": KEYCAPS[0]}},
        },
    ],
    group=True,
    nick="PPL Bot",
    names=("Alice", "Bob"),
)
def test_events_through_the_service_render_safe_html(
    real_bot: Bot, events: list[dict[str, Any]], group: bool, nick: str | None, names: tuple[str | None, str | None]
) -> None:
    service = Service(real_bot, MemoryStore())
    known = Known(service, creators=frozenset([ALICE]))
    room = make_room(group, nick, names)
    for source in events:
        event = parse(source)
        if event is None:
            continue
        too_old(event, NOW, timedelta(minutes=10))
        incoming = to_incoming(event, room, CTX, known)
        if incoming is None:
            continue
        assert incoming.chat == ROOM and incoming.user in {ALICE, BOB}
        assert incoming.chat_kind is (ChatKind.GROUP if group else ChatKind.DIRECT)
        deliver(service, known, incoming)


OPTION = st.builds(Option, label=TEXT, value=TEXT)


@FUZZ
@given(
    text=TEXT,
    kind=st.sampled_from(ReplyKind),
    options=st.lists(OPTION, max_size=4).map(tuple),
    reply_to=st.none() | st.sampled_from(["$q", "$e1"]),
    thread=st.none() | st.just("$root"),
    mention=st.none() | st.just(ALICE),
)
@example(
    text="<script>alert(1)</script> & **bold** _it_\nx",
    kind=ReplyKind.QUESTION,
    options=(Option("a<b", "1"),),
    reply_to="$q",
    thread="$root",
    mention=ALICE,
)
def test_any_reply_renders_escaped_html(
    text: str,
    kind: ReplyKind,
    options: tuple[Option, ...],
    reply_to: str | None,
    thread: str | None,
    mention: str | None,
) -> None:
    reply = Reply(text, kind, options, reply_to)
    exact = True  # overlapping bold and italic once broke nesting; now every text must be exact
    content = render(reply, thread=thread, mention=mention)
    check_content(content, reply, thread=thread, mention=mention, exact=exact)


def test_every_curated_text_renders_exactly(kb: KnowledgeBase) -> None:
    """The knowledge base and the built-in texts keep to the markup: balanced HTML, same text as the
    body. (The property tests above rely on it: user text cannot add ** markup to a reply.)"""
    texts = [e.answer for e in kb.entries] + [e.more for e in kb.entries if e.more]
    texts += [v for k, v in vars(bot_texts).items() if k.isupper() and isinstance(v, str)]
    if kb.questionnaire is not None:
        q = kb.questionnaire
        texts += [q.title, q.disclaimer]
        texts += [t for question in q.questions.values() for t in (question.text, question.why)]
        texts += [a.label for question in q.questions.values() for a in question.options]
        texts += [t for v in q.verdicts.values() for t in (v.why, v.detail, v.next_steps, *v.conditions)]
    assert len(texts) > 50
    for text in texts:
        content = render(Reply(text))
        problems, shown = html_problems(content["formatted_body"])
        assert not problems, (problems, text[:80])
        assert shown == content["body"], text[:80]


# --------------------------------------------------------------------------- malformed sync payloads

ROOM_IDS = st.sampled_from([ROOM, ROOM, "!other:example.org", "!x:y:z", "", "not a room"])


@st.composite
def state_event(draw: st.DrawFn) -> dict[str, Any]:
    """A room state event, its content sometimes of the wrong shape."""
    etype = draw(st.sampled_from(["m.room.create", "m.room.power_levels", "m.room.member", "m.room.name"]))
    content: dict[str, Any]
    if etype == "m.room.create":
        content = {
            "creator": draw(st.sampled_from([ALICE, BOB]) | JSON),
            "room_version": draw(st.sampled_from(["1", "10", "11", "12"]) | JSON),
            "additional_creators": draw(st.lists(st.sampled_from([BOB, BOT]), max_size=2) | JSON),
        }
    elif etype == "m.room.power_levels":
        levels = st.integers(-(2**53), 2**53) | JSON
        content = {
            "users": draw(st.dictionaries(st.sampled_from([ALICE, BOB, BOT]), levels, max_size=3) | JSON),
            "users_default": draw(st.integers(-100, 100) | JSON),
        }
    elif etype == "m.room.member":
        content = {"membership": draw(st.sampled_from(["join", "invite", "leave"]) | JSON), "displayname": draw(NICK)}
    else:
        content = {"name": draw(TEXT | JSON)}
    return {
        "type": etype,
        "event_id": f"$s{draw(st.integers(0, 9))}",
        "sender": draw(st.sampled_from([ALICE, BOB, BOT])),
        "origin_server_ts": draw(st.integers(0, MAX_TS)),
        "state_key": draw(st.sampled_from([BOT, ALICE, BOB]) if etype == "m.room.member" else st.just("")),
        "content": draw(sometimes_junk(st.just(content), 10)),
    }


@st.composite
def sync_payload(draw: st.DrawFn) -> dict[str, Any]:
    """A /sync response body: the structure mostly right (so nio accepts it), the events in it
    anything from well-formed to broken, sometimes junk at any level."""
    timeline_event = sometimes_junk(st.integers(0, 7).flatmap(event_source) | state_event(), 20)
    timeline = st.fixed_dictionaries(
        {"events": sometimes_junk(st.lists(timeline_event, max_size=4), 30)},
        optional={"limited": st.booleans(), "prev_batch": st.text(max_size=4)},
    )
    state = st.fixed_dictionaries({"events": sometimes_junk(st.lists(state_event(), max_size=3), 30)})
    summary = st.fixed_dictionaries(
        {},
        optional={
            "m.joined_member_count": st.integers(0, 50),
            "m.invited_member_count": st.integers(0, 5),
            "m.heroes": st.lists(st.sampled_from([ALICE, BOB, BOT]), max_size=3),
        },
    )
    joined = st.fixed_dictionaries(
        {"timeline": sometimes_junk(timeline, 30)},
        optional={"state": sometimes_junk(state, 30), "summary": sometimes_junk(summary, 30)},
    )
    invited = st.fixed_dictionaries({"invite_state": sometimes_junk(state, 30)})
    rooms = st.fixed_dictionaries(
        {"join": sometimes_junk(st.dictionaries(ROOM_IDS, joined, min_size=1, max_size=2), 30)},
        optional={"invite": sometimes_junk(st.dictionaries(ROOM_IDS, invited, max_size=2), 30)},
    )
    payload: dict[str, Any] = {"next_batch": draw(sometimes_junk(st.text(max_size=5), 30)), "rooms": draw(rooms)}
    for key in draw(st.sets(st.sampled_from(["to_device", "device_lists", "presence", "account_data"]), max_size=1)):
        payload[key] = draw(JSON)
    return payload


@FUZZ
@given(
    payload=sync_payload(),
    allowed=st.lists(st.sampled_from(["example.org", ALICE, ROOM, "", ":"]), max_size=2).map(tuple),
)
def test_malformed_sync_payloads_do_not_raise_out_of_the_helpers(
    real_bot: Bot, ledger: EventLedger, payload: dict[str, Any], allowed: tuple[str, ...]
) -> None:
    try:
        response = SyncResponse.from_dict(payload)
    except Exception:  # nio's own parsing: MatrixTransport backs off and retries
        note("nio raised")
        return
    if not isinstance(response, SyncResponse):
        note("nio: SyncError")
        return
    note(f"rooms: {len(response.rooms.join)} joined, {len(response.rooms.invite)} invited")
    service = Service(real_bot, MemoryStore())
    known = Known(service)
    learner = _Known(ledger, service)
    for room_id, info in response.rooms.invite.items():
        inviter = next(
            (
                e.sender
                for e in info.invite_state
                if isinstance(e, InviteMemberEvent) and e.state_key == BOT and e.membership == "invite"
            ),
            None,
        )
        invite_allowed(allowed, room_id, inviter)
    for room_id, joined in response.rooms.join.items():
        room = MatrixRoom(room_id, BOT)
        if joined.summary is not None:
            room.update_summary(joined.summary)
        for state in [*joined.state, *joined.timeline.events]:
            room.handle_event(state)  # as nio's client does before pplbot sees the room
        learner.learn(room_id, [*joined.state, *joined.timeline.events])
        known.creators = learner.room_creators(room_id)
        for user in (ALICE, BOB, BOT):
            is_moderator(room, user, CTX, known.creators)
        for event in joined.timeline.events:
            too_old(event, NOW, timedelta(minutes=10))
            incoming = to_incoming(event, room, CTX, known)
            note(f"timeline event: {type(event).__name__}{', for the bot' if incoming else ''}")
            if incoming is not None:
                deliver(service, known, incoming)


@FUZZ
@given(text=TEXT | st.text(), key=st.text(max_size=4) | st.sampled_from(KEYCAPS))
def test_text_helpers_never_raise(text: str, key: str) -> None:
    assert isinstance(strip_reply_fallback(text), str)
    index = reaction_index(key)
    assert index is None or 0 <= index < 9


# --------------------------------------------------------------------------- known bugs (minimal reproductions)


def _message(ts: int) -> Event:
    return Event.parse_event(
        {
            "type": "m.room.message",
            "event_id": "$far",
            "sender": ALICE,
            "origin_server_ts": ts,
            "content": {"msgtype": "m.text", "body": "!ppl hi"},
        }
    )


@pytest.mark.parametrize("helper", ["too_old", "to_incoming"])
def test_far_future_timestamps_are_not_raised(real_bot: Bot, helper: str) -> None:
    event = _message(10**15)  # year ~33658; canonical JSON allows integers up to 2**53 - 1
    if helper == "too_old":
        too_old(event, NOW, timedelta(minutes=10))
    else:
        to_incoming(event, make_room(True, None, (None, None)), CTX, Known(Service(real_bot, MemoryStore())))


@pytest.mark.parametrize("text", ["**a _b** c_", "_a **b_ c**"])
def test_overlapping_markup_renders_balanced_html(text: str) -> None:
    problems, _ = html_problems(render(Reply(text))["formatted_body"])
    assert not problems


def test_body_and_html_agree_on_italics_after_bold() -> None:
    content = render(Reply("**a**_b_"))
    assert html_problems(content["formatted_body"])[1] == content["body"]
