"""Tests of the fake Bot API, driven by python-telegram-bot's real Bot / Application over HTTP."""

from __future__ import annotations

import asyncio
import datetime as dtm
import html
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from telegram import (
    Bot,
    BotCommand,
    ChatFullInfo,
    ChatMemberAdministrator,
    ChatMemberOwner,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyParameters,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from .telegram_api import FakeBotApi, auto_entities, parse_html

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as api:
        yield api


@pytest_asyncio.fixture
async def bot(fake: FakeBotApi) -> AsyncIterator[Bot]:
    async with Bot(fake.token, base_url=fake.base_url) as b:
        yield b


async def raw(fake: FakeBotApi, method: str, *, token: str | None = None, **kwargs: Any) -> tuple[int, Any]:
    url = f"{fake.base_url}{token or fake.token}/{method}"
    async with aiohttp.ClientSession() as session, session.post(url, **kwargs) as resp:
        return resp.status, await resp.json()


# ---------------------------------------------------------------- basic protocol
async def test_get_me(fake: FakeBotApi) -> None:
    async with Bot(fake.token, base_url=fake.base_url) as bot:  # initialize() calls getMe
        me = await bot.get_me()
    assert me.id == 123456 and me.is_bot and me.username == "pplbot_test_bot"
    assert [c.method for c in fake.calls] == ["getMe", "getMe"]
    assert fake.calls[0].params == {}


async def test_wrong_token_and_unknown_method(fake: FakeBotApi) -> None:
    status, body = await raw(fake, "getMe", token="999:WRONG")
    assert (status, body) == (401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
    status, body = await raw(fake, "getFooBar")
    assert status == 404
    assert body == {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
    with pytest.raises(InvalidToken):
        async with Bot("999:WRONG", base_url=fake.base_url):
            pass


async def test_parameter_encodings(fake: FakeBotApi) -> None:
    markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
    status, body = await raw(fake, "sendMessage", json={"chat_id": 7, "text": "json", "reply_markup": markup})
    assert status == 200 and body["result"]["reply_markup"] == markup
    status, _ = await raw(fake, "sendMessage", params={"chat_id": "7", "text": "query"})
    assert status == 200
    form = aiohttp.FormData()
    form.add_field("chat_id", "7")
    form.add_field("text", "multipart")
    form.add_field("reply_markup", json.dumps(markup))
    form.add_field("document", b"\x00bytes", filename="x.bin")  # forces multipart/form-data
    status, _ = await raw(fake, "sendMessage", data=form)
    assert status == 200
    form_data = {"chat_id": "7", "text": "form", "disable_notification": "true"}
    status, _ = await raw(fake, "sendMessage", data=form_data)
    assert status == 200
    params = [c.params for c in fake.calls_to("sendMessage")]
    assert [p["chat_id"] for p in params] == [7, 7, 7, 7]
    assert params[2]["reply_markup"] == markup and params[2]["document"] == b"\x00bytes"
    assert params[3]["disable_notification"] is True
    assert [m["message_id"] for m in fake.sent_messages(7)] == [1, 2, 3, 4]


async def test_send_message_html_and_keyboard(fake: FakeBotApi, bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup(
        [[InlineKeyboardButton("Yes", callback_data="yes"), InlineKeyboardButton("Docs", url="https://example.org")]]
    )
    user_text = 'a <b> & "c" 😀'
    msg = await bot.send_message(
        42,
        f"<b>Hi</b> <i>{html.escape(user_text)}</i>",
        parse_mode=ParseMode.HTML,
        reply_markup=keyboard,
        message_thread_id=5,
    )
    assert msg.text == f"Hi {user_text}"
    assert msg.from_user is not None and msg.from_user.id == fake.bot_id
    assert [(e.type, e.offset, e.length) for e in msg.entities] == [("bold", 0, 2), ("italic", 3, 14)]
    assert msg.reply_markup == keyboard and msg.message_thread_id == 5
    call = await fake.wait_for("sendMessage")
    assert call.params["chat_id"] == 42 and call.params["parse_mode"] == "HTML"
    assert fake.sent_messages(42) == [call.result] and fake.sent_messages(43) == []


@pytest.mark.parametrize(
    "text",
    [
        "<div>x</div>",
        "a < b",
        "a > b",
        "fish & chips",
        "<b>bold",
        "<b>x</i>",
        "x</b>",
        "<a>no href</a>",
        "<span>x</span>",
        "&nbsp;",
    ],
)
async def test_bad_html_refused(bot: Bot, text: str) -> None:
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(42, text, parse_mode=ParseMode.HTML)


async def test_plain_text_is_not_validated_as_html(bot: Bot) -> None:
    msg = await bot.send_message(42, "a < b & <div>")
    assert msg.text == "a < b & <div>"


@pytest.mark.parametrize(
    ("text", "error"), [("", "text is empty"), ("<b> </b>", "text is empty"), ("x" * 4097, "too long")]
)
async def test_text_limits(bot: Bot, text: str, error: str) -> None:
    with pytest.raises(BadRequest, match=rf"(?i){error}"):
        await bot.send_message(42, text, parse_mode=ParseMode.HTML)


async def test_callback_data_limits(bot: Bot) -> None:
    await bot.send_message(
        42, "ok", reply_markup=InlineKeyboardMarkup.from_button(InlineKeyboardButton("x", callback_data="é" * 32))
    )  # 64 bytes
    for data in ("é" * 33, ""):
        markup = InlineKeyboardMarkup.from_button(InlineKeyboardButton("x", callback_data=data))
        with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
            await bot.send_message(42, "too long", reply_markup=markup)


async def test_reply_to_and_edit_and_delete(fake: FakeBotApi, bot: Bot) -> None:
    incoming = fake.send_text(-100, 7, "hello", chat_type="supergroup")["message"]
    reply = await bot.send_message(-100, "re", reply_parameters=ReplyParameters(incoming["message_id"]))
    assert reply.reply_to_message is not None and reply.reply_to_message.text == "hello"
    assert reply.message_id == incoming["message_id"] + 1
    with pytest.raises(BadRequest, match=r"(?i)replied not found"):
        await bot.send_message(-100, "re", reply_parameters=ReplyParameters(999))
    edited = await bot.edit_message_text("re2", -100, reply.message_id)
    assert not isinstance(edited, bool) and edited.text == "re2" and edited.edit_date is not None
    with pytest.raises(BadRequest, match=r"(?i)not modified"):
        await bot.edit_message_text("re2", -100, reply.message_id)
    with pytest.raises(BadRequest, match=r"(?i)can't be edited"):
        await bot.edit_message_text("x", -100, incoming["message_id"])
    markup = InlineKeyboardMarkup.from_button(InlineKeyboardButton("b", callback_data="b"))
    edited = await bot.edit_message_reply_markup(-100, reply.message_id, reply_markup=markup)
    assert not isinstance(edited, bool) and edited.reply_markup == markup
    assert (fake.message(-100, reply.message_id) or {})["reply_markup"] == markup.to_dict()
    with pytest.raises(BadRequest, match=r"(?i)can't be deleted"):
        await bot.delete_message(-100, incoming["message_id"])  # not admin in a group
    assert await bot.delete_message(-100, reply.message_id)
    with pytest.raises(BadRequest, match=r"(?i)to delete not found"):
        await bot.delete_message(-100, reply.message_id)


async def test_chat_info_admins_and_members(fake: FakeBotApi, bot: Bot) -> None:
    fake.send_text(-200, 7, "hi", chat_type="group", title="PPL")
    fake.set_admins(-200, [8, fake.bot_id], owner=9, can_promote_members=False)
    chat = await bot.get_chat(-200)
    assert isinstance(chat, ChatFullInfo) and chat.title == "PPL" and chat.type == "group"
    admins = await bot.get_chat_administrators(-200)
    assert isinstance(admins[0], ChatMemberOwner) and admins[0].user.id == 9
    assert isinstance(admins[1], ChatMemberAdministrator) and not admins[1].can_promote_members
    assert admins[1].can_delete_messages
    assert (await bot.get_chat_member(-200, 8)).status == "administrator"
    assert (await bot.get_chat_member(-200, 7)).status == "member"
    with pytest.raises(BadRequest, match=r"(?i)user not found"):
        await bot.get_chat_member(-200, 12345)
    with pytest.raises(BadRequest, match=r"(?i)no administrators"):
        await bot.get_chat_administrators(7)
    assert await bot.delete_message(-200, 1)  # now the bot is an admin
    assert await bot.send_chat_action(-200, "typing")
    with pytest.raises(BadRequest):
        await bot.send_chat_action(-200, "dancing")
    assert await bot.leave_chat(-200)
    with pytest.raises(Forbidden, match=r"(?i)kicked"):
        await bot.send_message(-200, "still here?")
    fake.strict_chats = True
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.get_chat(-300)


async def test_commands(fake: FakeBotApi, bot: Bot) -> None:
    assert await bot.set_my_commands([BotCommand("start", "Start the bot"), BotCommand("help", "Help")])
    assert [c.command for c in await bot.get_my_commands()] == ["start", "help"]
    assert fake.commands_for()[0] == {"command": "start", "description": "Start the bot"}
    with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Bad-Name", "x")])


# ---------------------------------------------------------------- faults
async def test_retry_after(fake: FakeBotApi, bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    # Without PTB_TIMEDELTA, constructing RetryAfter emits PTBDeprecationWarning (an error under -W error).
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    fake.fail_next("sendMessage", 429, retry_after=3)
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(42, "x")
    assert info.value.retry_after == dtm.timedelta(seconds=3)
    assert fake.calls_to("sendMessage")[0].status == 429
    assert (await bot.send_message(42, "again")).text == "again"  # count=1 → next call succeeds


async def test_forbidden_and_server_errors(fake: FakeBotApi, bot: Bot) -> None:
    fake.fail_next("sendMessage", 403)
    with pytest.raises(Forbidden, match=r"(?i)blocked by the user"):
        await bot.send_message(42, "x")
    fake.fail_next("sendMessage", 502, count=2)
    for _ in range(2):
        with pytest.raises(NetworkError):
            await bot.send_message(42, "x")
    fake.set_blocked(42)
    with pytest.raises(Forbidden, match=r"(?i)blocked by the user"):
        await bot.send_message(42, "x")
    fake.set_blocked(42, False)
    assert (await bot.send_message(42, "back")).text == "back"
    with pytest.raises(ValueError, match="unknown method"):
        fake.fail_next("noSuchMethod", 500)


# ---------------------------------------------------------------- long polling and webhooks
async def test_long_poll_wakes_and_confirms(fake: FakeBotApi, bot: Bot) -> None:
    start = time.monotonic()
    loop = asyncio.get_running_loop()
    loop.call_later(0.1, fake.send_text, 42, 42, "ping")
    updates = await bot.get_updates(timeout=5)
    assert 0.05 < time.monotonic() - start < 1.0
    assert [u.message.text for u in updates if u.message] == ["ping"]
    assert len(await bot.get_updates(timeout=0)) == 1  # not confirmed yet
    assert await bot.get_updates(offset=updates[0].update_id + 1, timeout=0) == ()
    fake.send_text(42, 42, "a")
    fake.send_text(42, 42, "b")
    assert [u.update_id for u in await bot.get_updates(limit=1)] == [updates[0].update_id + 1]
    poll = asyncio.create_task(bot.get_updates(offset=updates[0].update_id + 3, timeout=30))
    await asyncio.sleep(0.1)
    start = time.monotonic()
    await fake.stop()  # must answer the pending long poll promptly
    assert await poll == () and time.monotonic() - start < 1.0


async def test_get_updates_conflicts(fake: FakeBotApi, bot: Bot) -> None:
    # PTB's getUpdates connection pool has size 1, so the overlapping request needs a second Bot.
    older = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.1)
    async with Bot(fake.token, base_url=fake.base_url) as other:
        assert await other.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match=r"(?i)terminated by other getUpdates"):
        await older
    assert await bot.set_webhook("https://example.org/hook", secret_token="s3cret")
    assert (await bot.get_webhook_info()).url == "https://example.org/hook"
    with pytest.raises(Conflict, match=r"(?i)webhook is active"):
        await bot.get_updates()
    fake.send_text(1, 1, "x")
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.get_updates() == ()


async def test_allowed_updates_filter(fake: FakeBotApi, bot: Bot) -> None:
    fake.send_text(1, 1, "text")
    fake.add_update(
        {
            "message_reaction": {
                "chat": {"id": 1, "type": "private"},
                "message_id": 1,
                "date": 0,
                "old_reaction": [],
                "new_reaction": [],
            }
        }
    )
    assert [u.message is not None for u in await bot.get_updates()] == [True]
    updates = await bot.get_updates(allowed_updates=["message_reaction"])
    assert [u.message_reaction is not None for u in updates] == [True]


async def test_post_update_to_webhook(fake: FakeBotApi) -> None:
    received: list[tuple[str | None, Any]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json()))
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    try:
        update = fake.send_text(42, 42, "/start")
        assert await fake.post_update_to(url, update, secret_token="abc") == 200
        assert await fake.post_update_to(url + "-missing", {"message": update["message"]}) == 404
    finally:
        await runner.cleanup()
    assert received == [("abc", update)]
    assert await fake._get_updates({}) == []  # delivered updates leave the getUpdates queue


# ---------------------------------------------------------------- builders
async def test_auto_entities_and_parse_html() -> None:
    assert auto_entities("/start@pplbot_test_bot hi @alice_x") == [
        {"type": "bot_command", "offset": 0, "length": 22},
        {"type": "mention", "offset": 26, "length": 8},
    ]
    assert auto_entities("mail a@b.com") == []
    text, entities = parse_html(
        '😀<b>x</b> <a href="https://e.org/?a=1&amp;b=2">l</a><pre><code class="language-py">p</code></pre>'
    )
    assert text == "😀x lp"
    assert entities == [
        {"type": "bold", "offset": 2, "length": 1},
        {"type": "text_link", "offset": 4, "length": 1, "url": "https://e.org/?a=1&b=2"},
        {"type": "pre", "offset": 5, "length": 1, "language": "py"},
    ]


async def test_injected_updates_parse_in_ptb(fake: FakeBotApi, bot: Bot) -> None:
    sent = await bot.send_message(
        -100,
        "pick",
        reply_markup=InlineKeyboardMarkup.from_button(InlineKeyboardButton("A", callback_data="a")),
        message_thread_id=3,
    )
    raw_updates = [
        fake.send_text(
            -100,
            7,
            "/help@pplbot_test_bot",
            chat_type="supergroup",
            message_thread_id=3,
            username="bob",
            reply_to_message=sent.to_dict(),
        ),
        fake.press_button(-100, 7, sent.to_dict(), "a"),
    ]
    with pytest.raises(ValueError, match="no button"):
        fake.press_button(-100, 7, sent.message_id, "nope")
    updates = [Update.de_json(u, bot) for u in raw_updates]
    msg = updates[0].message
    assert msg is not None and msg.chat.is_forum and msg.is_topic_message and msg.message_thread_id == 3
    assert msg.reply_to_message is not None and msg.reply_to_message.message_id == sent.message_id
    assert msg.parse_entities() and msg.from_user is not None and msg.from_user.username == "bob"
    query = updates[1].callback_query
    assert query is not None and query.data == "a" and query.message is not None
    assert await query.answer("done")
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await query.answer("twice")


# ---------------------------------------------------------------- full Application
async def test_application_polling_round_trip(fake: FakeBotApi) -> None:
    app: Application[Any, Any, Any, Any, Any, Any] = (
        ApplicationBuilder().token(fake.token).base_url(fake.base_url).build()
    )
    keyboard = InlineKeyboardMarkup(
        [[InlineKeyboardButton("Yes", callback_data="yes"), InlineKeyboardButton("No", callback_data="no")]]
    )

    async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("Welcome!", reply_markup=keyboard)

    async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None and update.message.text is not None
        await update.message.reply_html(f"you said <b>{html.escape(update.message.text)}</b>", do_quote=True)

    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer()
        await query.edit_message_text(f"chose {query.data}")

    app.add_handler(CommandHandler("start", on_start))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, on_text))
    app.add_handler(CallbackQueryHandler(on_button))
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(timeout=1, poll_interval=0)
    try:
        mark = fake.mark()
        fake.send_text(42, 42, "1 < 2 & <script>")
        call = await fake.wait_for("sendMessage", after=mark)
        assert call.ok and call.result["text"] == "you said 1 < 2 & <script>"
        assert call.result["reply_to_message"]["text"] == "1 < 2 & <script>"

        mark = fake.mark()
        fake.send_text(42, 42, f"/start@{fake.username}")
        call = await fake.wait_for("sendMessage", lambda c: c.result["text"] == "Welcome!", after=mark)
        welcome = call.result
        assert welcome["reply_markup"] == keyboard.to_dict()

        fake.press_button(42, 42, welcome, "yes")
        await fake.wait_for("answerCallbackQuery", lambda c: c.ok)
        edit = await fake.wait_for("editMessageText")
        assert edit.ok and edit.result["text"] == "chose yes" and "reply_markup" not in edit.result
        assert len(fake.sent_messages(42)) == 2
    finally:
        start = time.monotonic()
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        assert time.monotonic() - start < 2.0
    last = fake.calls_to("getUpdates")[-1]
    assert last.params["timeout"] == 0 and last.params["offset"] == 4  # confirms all three updates


async def test_polling_survives_get_updates_429(fake: FakeBotApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # see test_retry_after
    app: Application[Any, Any, Any, Any, Any, Any] = (
        ApplicationBuilder().token(fake.token).base_url(fake.base_url).build()
    )

    async def pong(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        await update.message.reply_text("pong")

    app.add_handler(MessageHandler(filters.TEXT, pong))
    fake.fail_next("getUpdates", 429, retry_after=1)
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(timeout=1, poll_interval=0)
    try:
        start = time.monotonic()
        fake.send_text(1, 1, "ping")
        call = await fake.wait_for("sendMessage")
        assert call.result["text"] == "pong"
        assert 1.0 <= time.monotonic() - start < 4.0  # PTB waits retry_after (+0.5 s) before polling again
        assert [c.status for c in fake.calls_to("getUpdates")][:2] == [429, 200]
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
