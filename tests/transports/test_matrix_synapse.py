"""The Matrix transport against a real Synapse: etiquette, questionnaire, E2EE, restarts, faults.

Every test gets a fresh bot account (its own device, data dir and database) and fresh people,
so tests share nothing but the homeserver. "Nothing happened" is checked with a sentinel: the
bot handles events in order, so once it has answered a later message, any reply to an earlier
one would already have arrived.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from pathlib import Path

import pytest
from nio import MegolmEvent, ReactionEvent, RoomMessage, RoomMessageNotice

from pplbot.config import Settings
from pplbot.transports.matrix import LEAVING, NOT_MODERATOR, SORRY, UNDECRYPTABLE, MatrixTransport
from pplbot.transports.matrix_events import KEYCAPS
from tests.fakes.synapse import RegisteredUser, SynapseServer
from tests.transports.conftest import BotFactory, Peer, PeerFactory, in_reply_to, relates


async def group_room(alice: Peer, bob: Peer, bot_id: str) -> str:
    room = await alice.create_room([bot_id, bob.user_id], name="co-op chat")
    await bob.until(lambda: room in bob.client.invited_rooms, "invite")
    await bob.client.join(room)
    await alice.joined(room, bot_id, bob.user_id)
    return room


def thread_of(event: object) -> str | None:
    rel = relates(event)
    return rel.get("event_id") if rel.get("rel_type") == "m.thread" else None


def bot_reactions(peer: Peer, bot_id: str, event_id: str) -> list[ReactionEvent]:
    """The reactions the bot put on `event_id`, as `peer` saw them."""
    return [e for e in peer.from_user(bot_id) if isinstance(e, ReactionEvent) and e.reacts_to == event_id]


def in_thread(root: str, last: str) -> dict[str, object]:
    return {
        "m.relates_to": {
            "rel_type": "m.thread",
            "event_id": root,
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": last},
        }
    }


async def test_direct_chat_question_answered(bots: BotFactory, peers: PeerFactory) -> None:
    bot = await bots()
    alice = await peers("alice")
    room = await alice.create_room([bot.user_id], direct=True)
    await alice.joined(room, bot.user_id)

    question = await alice.send(room, "who wrote the peer production license")
    reply = await alice.reply(bot.user_id, question)

    assert isinstance(reply, RoomMessageNotice)
    assert "Kleiner" in reply.body
    assert reply.format == "org.matrix.custom.html" and "Kleiner" in reply.formatted_body
    assert in_reply_to(reply) == question
    assert thread_of(reply) is None


async def test_group_room_etiquette(bots: BotFactory, peers: PeerFactory) -> None:
    bot = await bots()
    alice, bob = await peers("alice"), await peers("bob")
    room = await group_room(alice, bob, bot.user_id)
    localpart = bot.user_id[1:].split(":")[0]

    chatter = await bob.send(room, "lol nice weather")
    other_bot = await bob.send(room, "!ppl what is the ppl", msgtype="m.notice")
    command = await bob.send(room, "!ppl can a worker co-op sell ppl works")
    answer = await alice.reply(bot.user_id, command, "answer to the command")
    assert isinstance(answer, RoomMessageNotice)
    assert "4(c)" in answer.body and answer.formatted_body
    assert answer.source["content"]["m.mentions"] == {"user_ids": [bob.user_id]}
    assert alice.replies(bot.user_id, chatter) == [] and alice.replies(bot.user_id, other_bot) == []

    by_mentions = await alice.send(room, "what is copyfarleft?", extra={"m.mentions": {"user_ids": [bot.user_id]}})
    assert "Copyfarleft" in (await alice.reply(bot.user_id, by_mentions, "answer to m.mentions")).body

    by_name = await alice.send(room, f"{localpart}: who wrote the peer production license")
    assert "Kleiner" in (await alice.reply(bot.user_id, by_name, "answer to the localpart mention")).body

    asked = await alice.send(room, f"{localpart}: what is the ppl")
    short = await alice.reply(bot.user_id, asked)
    assert "more" in short.body
    more = await alice.send(room, "more", extra={"m.relates_to": {"m.in_reply_to": {"event_id": short.event_id}}})
    detail = await alice.reply(bot.user_id, more, "details after replying 'more' to the bot")
    assert detail.body != short.body

    root = await bob.send(room, "talking about licences here")
    threaded = await bob.send(room, "!ppl who wrote the peer production license", extra=in_thread(root, root))
    in_thread_reply = await alice.reply(bot.user_id, threaded, "answer in the thread")
    assert thread_of(in_thread_reply) == root
    assert relates(in_thread_reply)["is_falling_back"] is False
    chatter_in_thread = await bob.send(room, "nice", extra=in_thread(root, in_thread_reply.event_id))
    sentinel = await bob.send(room, "!about")
    await alice.reply(bot.user_id, sentinel, "answer to !about")
    assert alice.replies(bot.user_id, root) == [] and alice.replies(bot.user_id, chatter_in_thread) == []


async def test_questionnaire_by_numbers_and_reactions(bots: BotFactory, peers: PeerFactory) -> None:
    bot = await bots()
    alice, bob = await peers("alice"), await peers("bob")
    room = await group_room(alice, bob, bot.user_id)

    start = await alice.send(room, "!ppl quiz")
    q1 = await alice.reply(bot.user_id, start, "question 1")
    assert "Question 1" in q1.body and thread_of(q1) == start  # a new thread, rooted at the request
    assert "1. Only read, watch" in q1.body and "<ol>" in q1.formatted_body

    def reactions() -> list[ReactionEvent]:
        return bot_reactions(alice, bot.user_id, q1.event_id)

    await alice.until(lambda: len(reactions()) >= 8, "number reactions on question 1")
    assert [e.key for e in reactions()] == list(KEYCAPS[:8])  # one per option, in order

    two = await alice.send(room, "3", extra=in_thread(start, q1.event_id))  # "Copy, share, publish"
    q2 = await alice.reply(bot.user_id, two, "question 2")
    assert "Question 2" in q2.body and thread_of(q2) == start

    await bob.react(room, q2.event_id, KEYCAPS[0])  # not bob's questionnaire: ignored
    await alice.react(room, q2.event_id, KEYCAPS[0])  # "Under the PPL, with the author's name"
    q3 = await alice.reply(bot.user_id, q2.event_id, "question 3 after alice's reaction")
    assert "Question 3" in q3.body and thread_of(q3) == start

    one = await alice.send(room, "1", extra=in_thread(start, q3.event_id))  # "Just me, as a private person"
    q4 = await alice.reply(bot.user_id, one, "question 4")
    await alice.react(room, q4.event_id, KEYCAPS[0])  # "No: it is free"
    verdict = await alice.reply(bot.user_id, q4.event_id, "the verdict")
    assert "Permitted, with conditions." in verdict.body and thread_of(verdict) == start
    assert len(alice.replies(bot.user_id, q2.event_id)) == 1  # bob's reaction got nothing


async def test_encrypted_room_round_trip(bots: BotFactory, peers: PeerFactory) -> None:
    bot = await bots()
    alice = await peers("alice", encrypted=True)
    room = await alice.create_room([bot.user_id], direct=True, encrypted=True)
    await alice.joined(room, bot.user_id)

    question = await alice.send(room, "who wrote the peer production license")
    reply = await alice.reply(bot.user_id, question)

    assert isinstance(reply, RoomMessageNotice) and reply.decrypted
    assert "Kleiner" in reply.body and in_reply_to(reply) == question
    assert [e for e in alice.from_user(bot.user_id) if isinstance(e, RoomMessage | MegolmEvent)] == [reply]


async def test_bot_restart_mid_questionnaire(bots: BotFactory, peers: PeerFactory) -> None:
    """In an encrypted direct chat, so the crypto store must survive the restart too."""
    bot = await bots()
    alice = await peers("alice", encrypted=True)
    room = await alice.create_room([bot.user_id], direct=True, encrypted=True)
    await alice.joined(room, bot.user_id)
    session_file = bot.settings.data_dir / "matrix" / "session.json"
    device = json.loads(session_file.read_text())["device_id"]

    start = await alice.send(room, "/quiz")
    q1 = await alice.reply(bot.user_id, start)
    two = await alice.send(room, "3")
    q2 = await alice.reply(bot.user_id, two)
    assert "Question 2" in q2.body

    await bot.stop()
    while_down = await alice.send(room, "1")  # "Under the PPL, with the author's name"
    await bot.start()

    q3 = await alice.reply(bot.user_id, while_down, "an answer to the message sent while the bot was down")
    assert isinstance(q3, RoomMessageNotice) and q3.decrypted and "Question 3" in q3.body
    await alice.react(room, q3.event_id, KEYCAPS[0])  # the reaction map survived the restart
    q4 = await alice.reply(bot.user_id, q3.event_id, "question 4")
    assert "Question 4" in q4.body
    for earlier in (start, two, while_down):
        assert len(alice.replies(bot.user_id, earlier)) == 1, "answered twice"
    assert q1.event_id != q2.event_id
    assert json.loads(session_file.read_text())["device_id"] == device  # the same device


async def test_homeserver_restart(synapse: SynapseServer, bots: BotFactory, peers: PeerFactory) -> None:
    bot = await bots()
    alice = await peers("alice")
    room = await alice.create_room([bot.user_id], direct=True)
    await alice.joined(room, bot.user_id)
    before = await alice.send(room, "what is copyfarleft")
    await alice.reply(bot.user_id, before)
    assert bot.transport is not None
    transport = bot.transport

    states: list[str] = []

    async def watch() -> None:
        while True:
            states.append(transport.state)
            await asyncio.sleep(0.02)

    watcher = asyncio.create_task(watch())
    try:
        await asyncio.to_thread(synapse.restart)
        after = await alice.send(room, "who wrote the peer production license")  # maybe before the bot is back
        reply = await alice.reply(bot.user_id, after, "an answer after the homeserver restart")
    finally:
        watcher.cancel()
    assert "Kleiner" in reply.body
    assert "down" in states and transport.state == "connected"
    assert len(alice.replies(bot.user_id, before)) == 1


async def test_html_is_escaped_and_errors_are_contained(
    bots: BotFactory, peers: PeerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = await bots()
    alice = await peers("alice")
    room = await alice.create_room([bot.user_id], direct=True)
    await alice.joined(room, bot.user_id)

    html = await alice.send(room, "<b>hi</b> <script>x</script> what is the ppl")
    reply = await alice.reply(bot.user_id, html)
    assert "<script" not in reply.formatted_body and "<b>hi" not in reply.formatted_body

    # A malformed event, a malformed relation, an undecryptable event and a crash in the core:
    # each is contained, and the next message is answered as usual.
    bad = await alice.send(room, "what is copyfarleft", extra={"format": 5})  # nio: BadEvent, ignored
    odd = await alice.send(
        room, "what is copyfarleft", extra={"m.relates_to": {"rel_type": "m.thread", "m.in_reply_to": []}}
    )
    assert "Copyfarleft" in (await alice.reply(bot.user_id, odd)).body
    assert alice.replies(bot.user_id, bad) == []
    fake = {
        "algorithm": "m.megolm.v1.aes-sha2",
        "ciphertext": "AAAA",
        "sender_key": "x",
        "session_id": "nope",
        "device_id": "D",
    }
    secret = await alice.send_event(room, "m.room.encrypted", fake)
    assert (await alice.reply(bot.user_id, secret)).body == UNDECRYPTABLE
    assert bot.service is not None
    service = bot.service
    real_handle = service.handle

    def broken(incoming: object) -> object:
        monkeypatch.setattr(service, "handle", real_handle)
        raise RuntimeError("boom")

    monkeypatch.setattr(service, "handle", broken)
    crash = await alice.send(room, "who wrote the peer production license")
    assert (await alice.reply(bot.user_id, crash)).body == SORRY
    secret2 = await alice.send_event(room, "m.room.encrypted", {**fake, "session_id": "nope2"})
    later = await alice.send(room, "who wrote the peer production license")
    assert "Kleiner" in (await alice.reply(bot.user_id, later)).body
    assert alice.replies(bot.user_id, secret2) == []  # the decryption notice is sent once


async def test_invites_and_leaving(bots: BotFactory, peers: PeerFactory) -> None:
    alice, bob = await peers("alice"), await peers("bob")
    bot = await bots(matrix_allowed=(alice.user_id,))

    refused = await bob.create_room([bot.user_id], direct=True)
    await bob.until(lambda: bob.membership(refused, bot.user_id) == "leave", "the bot declining bob's invite")

    room = await group_room(alice, bob, bot.user_id)  # alice created it: power level 100
    not_yet = await bob.send(room, "!ppl leave")
    assert (await alice.reply(bot.user_id, not_yet)).body == NOT_MODERATOR
    leave = await alice.send(room, "!ppl leave")
    assert (await alice.reply(bot.user_id, leave)).body == LEAVING
    await alice.until(lambda: alice.membership(room, bot.user_id) == "leave", "the bot leaving")


async def test_rate_limited_replies_are_retried(
    synapse: SynapseServer,
    admin: RegisteredUser,
    bots: BotFactory,
    peers: PeerFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bot = await bots()
    alice = await peers("alice")
    room = await alice.create_room([bot.user_id], direct=True)
    await alice.joined(room, bot.user_id)
    path = f"/_synapse/admin/v1/users/{bot.user_id}/override_ratelimit"
    await asyncio.to_thread(
        synapse.admin_request, "POST", path, admin.access_token, {"messages_per_second": 2, "burst_count": 1}
    )

    caplog.set_level(logging.WARNING, "pplbot.transports.matrix")
    questions = [
        await alice.send(room, q)
        for q in ("what is copyfarleft", "who wrote the peer production license", "what is the ppl")
    ]
    for question in questions:
        await alice.reply(bot.user_id, question, "an answer despite HTTP 429")
    assert any("M_LIMIT_EXCEEDED" in r.getMessage() for r in caplog.records)


async def test_unreachable_homeserver(tmp_path: Path, bots: BotFactory) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once the socket is closed
    bot = await bots(start=False, matrix_homeserver=f"http://127.0.0.1:{port}")
    transport = await bot.start(wait=False)
    deadline = time.monotonic() + 5
    while transport.state != "down":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    started = time.monotonic()
    await bot.stop()
    assert time.monotonic() - started < 2
    assert isinstance(transport, MatrixTransport) and transport.state == "down"


def test_settings_must_name_the_homeserver(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        MatrixTransport(object(), Settings(knowledge_dir=tmp_path, data_dir=tmp_path), object())  # type: ignore[arg-type]


def edit(original: str, body: str) -> dict[str, object]:
    return {
        "m.new_content": {"msgtype": "m.text", "body": body},
        "m.relates_to": {"rel_type": "m.replace", "event_id": original},
    }


async def test_hints_use_matrix_commands(bots: BotFactory, peers: PeerFactory) -> None:
    bot = await bots()
    alice = await peers("alice")
    room = await alice.create_room([bot.user_id], direct=True)
    await alice.joined(room, bot.user_id)
    for text in ("help", "what is the best pizza in town"):
        reply = await alice.reply(bot.user_id, await alice.send(room, text), f"reply to {text!r}")
        assert "!quiz" in reply.body and "/quiz" not in reply.body and "/help" not in reply.body, reply.body


async def test_encrypted_group_room_reactions_are_encrypted(bots: BotFactory, peers: PeerFactory) -> None:
    bot = await bots()
    alice, bob = await peers("alice", encrypted=True), await peers("bob", encrypted=True)
    room = await alice.create_room([bot.user_id, bob.user_id], encrypted=True, name="secret co-op")
    await bob.until(lambda: room in bob.client.invited_rooms, "invite")
    await bob.client.join(room)
    await alice.joined(room, bot.user_id, bob.user_id)

    start = await alice.send(room, "!ppl quiz")
    q1 = await alice.reply(bot.user_id, start, "question 1")
    assert q1.decrypted

    def reactions() -> list[ReactionEvent]:
        return bot_reactions(alice, bot.user_id, q1.event_id)

    await alice.until(lambda: len(reactions()) >= 8, "number reactions on question 1")
    assert [e.key for e in reactions()] == list(KEYCAPS[:8])
    assert all(e.decrypted for e in reactions()), "a reaction was sent in the clear"
    await alice.react(room, q1.event_id, KEYCAPS[2])  # "Copy, share, publish"
    q2 = await alice.reply(bot.user_id, q1.event_id, "question 2 after the reaction")
    assert "Question 2" in q2.body


async def test_questionnaire_answers_outside_the_thread(bots: BotFactory, peers: PeerFactory) -> None:
    """Clients without threads send answers to the main timeline."""
    bot = await bots()
    alice, bob = await peers("alice"), await peers("bob")
    room = await group_room(alice, bob, bot.user_id)
    start = await alice.send(room, "!ppl quiz")
    q1 = await alice.reply(bot.user_id, start, "question 1")

    bare = await alice.send(room, "3")  # not in the thread
    q2 = await alice.reply(bot.user_id, bare, "question 2 after a bare number in the main timeline")
    assert "Question 2" in q2.body and thread_of(q2) == start
    replied = await alice.send(room, "1", extra={"m.relates_to": {"m.in_reply_to": {"event_id": q2.event_id}}})
    q3 = await alice.reply(bot.user_id, replied, "question 3 after a reply to question 2")
    assert "Question 3" in q3.body and thread_of(q3) == start
    back = await alice.send(room, "back")
    again = await alice.reply(bot.user_id, back, "question 2 again after 'back'")
    assert "Question 2" in again.body

    not_hers = await bob.send(room, "2")  # bob has no questionnaire running
    chatter = await alice.send(room, "lol this is fun")
    sentinel = await bob.send(room, "!about")
    await alice.reply(bot.user_id, sentinel, "answer to !about")
    assert alice.replies(bot.user_id, not_hers) == [] and alice.replies(bot.user_id, chatter) == []
    assert q1.event_id != q2.event_id


async def test_edited_questions(bots: BotFactory, peers: PeerFactory) -> None:
    bot = await bots()
    alice, bob = await peers("alice"), await peers("bob")
    room = await group_room(alice, bob, bot.user_id)

    # answered, then edited: the edit is ignored
    asked = await alice.send(room, "!ppl who wrote the peer production license")
    assert "Kleiner" in (await alice.reply(bot.user_id, asked)).body
    await alice.send(room, "* !ppl what is copyleft", extra=edit(asked, "!ppl what is copyleft"))

    # chatter that its sender edits into a question within minutes: answered as edited
    chatter = await alice.send(room, "what is copyfarleft anyway")
    await alice.send(room, "* !ppl what is copyfarleft", extra=edit(chatter, "!ppl what is copyfarleft"))
    assert "opyfarleft" in (await alice.reply(bot.user_id, chatter, "answer to the edited chatter")).body

    # someone else's edit of it does not count
    bobs = await bob.send(room, "nice weather")
    await alice.send(room, "* !ppl who wrote it", extra=edit(bobs, "!ppl who wrote it"))

    # a question and its edit that arrive together (the bot was down): answered once, as edited
    await bot.stop()
    typo = await alice.send(room, "!ppl who wrote teh licnse")
    await alice.send(
        room,
        "* !ppl who wrote the peer production license",
        extra=edit(typo, "!ppl who wrote the peer production license"),
    )
    await bot.start()
    fixed = await alice.reply(bot.user_id, typo, "answer to the edited question")
    assert "Kleiner" in fixed.body

    sentinel = await bob.send(room, "!about")
    await alice.reply(bot.user_id, sentinel, "answer to !about")
    assert len(alice.replies(bot.user_id, asked)) == 1 and len(alice.replies(bot.user_id, typo)) == 1
    assert alice.replies(bot.user_id, bobs) == []


async def test_hey_pplbot_addresses_the_bot(bots: BotFactory, peers: PeerFactory) -> None:
    bot = await bots()
    alice, bob = await peers("alice"), await peers("bob")
    room = await group_room(alice, bob, bot.user_id)
    localpart = bot.user_id[1:].split(":")[0]
    hey = await alice.send(room, f"hey {localpart}, who wrote the peer production license")
    assert "Kleiner" in (await alice.reply(bot.user_id, hey, "answer to 'hey <bot>, ...'")).body
    at = await alice.send(room, f"ok so @{localpart} what is copyfarleft")
    assert "opyfarleft" in (await alice.reply(bot.user_id, at, "answer to 'ok so @<bot> ...'")).body


async def test_a_group_room_is_greeted_once(bots: BotFactory, peers: PeerFactory) -> None:
    bot = await bots()
    alice, bob = await peers("alice"), await peers("bob")
    room = await group_room(alice, bob, bot.user_id)
    direct = await alice.create_room([bot.user_id], direct=True)
    await alice.joined(direct, bot.user_id)

    def greetings(room_id: str) -> list[RoomMessageNotice]:
        return [
            e
            for e in alice.from_user(bot.user_id, room_id)
            if isinstance(e, RoomMessageNotice) and e.body.startswith("Hello! I answer questions")
        ]

    greeting = (await alice.until(lambda: greetings(room), "the greeting"))[0]
    assert "!ppl your question" in greeting.body and "!quiz" in greeting.body and "/quiz" not in greeting.body
    await bot.stop()
    await bot.start()
    for room_id in (room, direct):
        sentinel = await alice.send(room_id, "!about")
        await alice.reply(bot.user_id, sentinel, "answer to !about")
    assert len(greetings(room)) == 1 and greetings(direct) == []
