"""Property tests of the Telegram message path: any text, any update shape; never an unhandled
exception, never HTML that Telegram would refuse, never a button Telegram would refuse."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telegram import Bot as PtbBot
from telegram import Update

from pplbot.core.bot import Bot
from pplbot.service import Service
from pplbot.store import MemoryStore
from pplbot.transports.telegram import MAX_CALLBACK, MAX_TEXT, parse_callback, render, to_incoming
from tests.fakes.telegram_api import parse_html

PTB = PtbBot("123456:TEST-TOKEN")


def update(text: str, chat_type: str = "private", reply_to_bot: bool = False) -> Update:
    message: dict[str, Any] = {
        "message_id": 7,
        "date": int(datetime(2026, 1, 1, tzinfo=UTC).timestamp()),
        "chat": {"id": 42 if chat_type == "private" else -100, "type": chat_type, "title": "g"},
        "from": {"id": 42, "is_bot": False, "first_name": "A"},
        "text": text,
    }
    if text.startswith("/"):
        message["entities"] = [
            {"type": "bot_command", "offset": 0, "length": len(text.split()[0].encode("utf-16-le")) // 2}
        ]
    if reply_to_bot:
        message["reply_to_message"] = {
            "message_id": 1,
            "date": 0,
            "chat": message["chat"],
            "from": {"id": 123456, "is_bot": True, "first_name": "B"},
            "text": "q",
        }
    upd = Update.de_json({"update_id": 1, "message": message}, PTB)
    assert upd is not None
    return upd


@settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(
    text=st.text(min_size=1, max_size=600)
    | st.sampled_from(["/quiz", "/start quiz", "/ask <b>x</b>", "/kb stats", "@pplbot_test_bot hi & <3", "1", "back"]),
    chat_type=st.sampled_from(["private", "group", "supergroup"]),
    reply_to_bot=st.booleans(),
)
def test_any_text_renders_valid_telegram_html(bot: Bot, text: str, chat_type: str, reply_to_bot: bool) -> None:
    service = Service(bot, MemoryStore())  # the bot is pure and built once; the store is fresh
    message = update(text, chat_type, reply_to_bot).message
    assert message is not None
    incoming = to_incoming(message, bot_id=123456, bot_username="pplbot_test_bot")
    if incoming is None:
        return
    for reply in service.handle(incoming):
        html, keyboard = render(reply, incoming.user)
        assert 0 < len(html) <= MAX_TEXT
        parse_html(html)  # raises like Telegram's "can't parse entities"
        for row in keyboard.inline_keyboard if keyboard else ():
            for button in row:
                data = button.callback_data
                assert isinstance(data, str) and 0 < len(data.encode()) <= MAX_CALLBACK
                assert parse_callback(data) is not None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20,
)
message_keys = st.sampled_from(
    [
        "message_id",
        "date",
        "chat",
        "from",
        "text",
        "entities",
        "reply_to_message",
        "message_thread_id",
        "is_topic_message",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    shape=st.dictionaries(message_keys, json_values, max_size=9),
    data=st.one_of(st.none(), st.text(max_size=80)),
)
def test_malformed_updates_never_escape(shape: dict[str, Any], data: str | None) -> None:
    for raw in (
        {"update_id": 5, "message": shape},
        {"update_id": 6, "callback_query": {"id": "1", "data": data, "message": shape}},
    ):
        try:
            upd = Update.de_json(raw, PTB)
        except Exception:
            continue  # TolerantBot drops these before they reach a handler (tested end to end)
        message = upd.message if upd is not None else None
        if message is not None:
            to_incoming(message, bot_id=123456, bot_username="pplbot_test_bot")
    if data is not None:
        parse_callback(data)
