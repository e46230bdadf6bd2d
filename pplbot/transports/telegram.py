"""Telegram adapter over a python-telegram-bot Application: updates in, core replies out.

Nothing here decides what to say. `to_incoming` decides whether a message is for the bot
(private chats: always; groups: commands, mentions, replies to the bot) and translates it;
`render` turns a Reply into HTML and an inline keyboard. Questionnaire buttons carry their
owner (`<user id>|<option value>`), so presses by anyone else get an alert and change nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from telegram import (
    BotCommand,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyParameters,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    ContextTypes,
    ExtBot,
    MessageHandler,
    TypeHandler,
    filters,
)

from pplbot.config import Settings
from pplbot.core.messages import ChatKind, Incoming, Reply, ReplyKind
from pplbot.core.questionnaire import parse_button
from pplbot.core.sessions import SessionKey
from pplbot.service import Service
from pplbot.store.base import Store
from pplbot.transports.markup import TELEGRAM, hints, to_html

__all__ = ["COMMANDS", "TelegramTransport", "TolerantBot", "build_application", "render", "to_incoming"]

logger = logging.getLogger(__name__)

COMMANDS = (
    ("quiz", "Is my use of a PPL work permitted? A few questions"),
    ("ask", "Ask a question about the Peer Production License"),
    ("about", "The PPL in three lines"),
    ("sources", "Where the answers come from"),
    ("help", "What I can do"),
    ("cancel", "Stop the questionnaire"),
)
MAX_TEXT = 4096
MAX_CALLBACK = 64
_LAST_UPDATE = "telegram:last_update_id"
_ADMIN_TTL = 600.0
_SEND_ATTEMPTS = 4


# ------------------------------------------------------------------ pure translation
def _command_target(text: str) -> str | None:
    """'/ask@somebot hi' -> 'somebot'; None when the command names no bot."""
    head = text.split(maxsplit=1)[0] if text.strip() else ""
    return head.split("@", 1)[1] if head.startswith("/") and "@" in head else None


def to_incoming(message: Message, *, bot_id: int, bot_username: str, is_moderator: bool = False) -> Incoming | None:
    """The core message for a Telegram message, or None when it is not for the bot."""
    user = message.from_user
    if user is None or user.is_bot:
        return None
    text = message.text or message.caption or ""
    if not text.strip():
        return None
    private = message.chat.type == "private"
    name = bot_username.lower()
    target = _command_target(text)
    if target is not None and target.lower() != name:
        return None  # a command for another bot
    if not private:
        mention = f"@{name}"
        replied_to_bot = (
            message.reply_to_message is not None
            and message.reply_to_message.from_user is not None
            and message.reply_to_message.from_user.id == bot_id
        )
        if text.startswith("/"):
            pass
        elif mention in text.lower():
            start = text.lower().index(mention)
            text = (text[:start] + text[start + len(mention) :]).strip(" ,:;")
        elif not replied_to_bot:
            return None
    if target is not None:
        head, _, rest = text.partition(" ")
        text = head.split("@", 1)[0] + (" " + rest if rest else "")
    thread = str(message.message_thread_id) if message.is_topic_message and message.message_thread_id else None
    return Incoming(
        network="telegram",
        chat=str(message.chat.id),
        user=str(user.id),
        text=text,
        received_at=message.date,
        chat_kind=ChatKind.DIRECT if private else ChatKind.GROUP,
        thread=thread,
        message_id=str(message.message_id),
        user_name=user.first_name,
        is_moderator=is_moderator,
    )


def callback_data(owner: str, value: str) -> str | None:
    """What a button sends: the option value, tagged with its owner for questionnaire buttons."""
    data = f"{owner}|{value}" if parse_button(value) is not None else value
    return data if 0 < len(data.encode()) <= MAX_CALLBACK else None


def parse_callback(data: str) -> tuple[str | None, str] | None:
    """(owner or None, option value), or None for data this bot never sends."""
    if "|" in data:
        owner, _, value = data.partition("|")
        return (owner, value) if owner.isdigit() and parse_button(value) is not None else None
    if data.startswith("/") and len(data) <= MAX_CALLBACK:
        return None, data
    return None


def render(reply: Reply, owner: str) -> tuple[str, InlineKeyboardMarkup | None]:
    """HTML text (user text escaped) and the keyboard for its options."""
    text = to_html(hints(reply.text, TELEGRAM))
    rows = []
    for i, option in enumerate(reply.options, 1):
        data = callback_data(owner, option.value)
        if data is None:
            continue
        label = option.label if len(option.label) <= 60 else option.label[:57] + "…"
        rows.append([InlineKeyboardButton(f"{i}. {label}", callback_data=data)])
    if reply.options:
        text += "\n" + "\n".join(f"{i}. {html.escape(o.label, quote=False)}" for i, o in enumerate(reply.options, 1))
    if len(text) > MAX_TEXT:
        text = text[: MAX_TEXT - 1] + "…"
    return text, InlineKeyboardMarkup(rows) if rows else None


# ------------------------------------------------------------------ the bot object
class TolerantBot(ExtBot[int]):
    """An ExtBot whose getUpdates drops a malformed update (logged) instead of failing on it forever."""

    _skip_to = 0

    async def get_updates(self, offset: int | None = None, *args: Any, **kwargs: Any) -> tuple[Update, ...]:
        if offset is not None and offset < self._skip_to:
            offset = self._skip_to  # confirms the malformed updates that were dropped
        return await super().get_updates(offset, *args, **kwargs)

    async def _post(self, endpoint: str, data: Any = None, *args: Any, **kwargs: Any) -> Any:
        result = await super()._post(endpoint, data, *args, **kwargs)
        if endpoint != "getUpdates" or not isinstance(result, list):
            return result
        clean = []
        for item in result:
            try:
                Update.de_json(item, self)
            except Exception as exc:  # any shape the library cannot read
                update_id = item.get("update_id") if isinstance(item, dict) else None
                logger.error("Telegram: dropping malformed update %s: %s", update_id, exc)
                if isinstance(update_id, int):
                    self._skip_to = max(self._skip_to, update_id + 1)
                continue
            clean.append(item)
        return clean


def build_application(
    token: str, base_url: str | None = None, *, group_max_rate: int = 20, overall_max_rate: float = 30
) -> Application[Any, Any, Any, Any, Any, Any]:
    """A python-telegram-bot Application with Telegram's rate limits and a tolerant bot."""
    limiter = AIORateLimiter(overall_max_rate=overall_max_rate, group_max_rate=group_max_rate, max_retries=5)
    bot = TolerantBot(token, base_url=base_url or "https://api.telegram.org/bot", rate_limiter=limiter)
    return ApplicationBuilder().bot(bot).build()


@dataclass(frozen=True, slots=True)
class WebhookOptions:
    listen: str  # host:port
    url: str
    secret: str | None


# ------------------------------------------------------------------ the transport
class TelegramTransport:
    """Connects an Application to the service. `run(stop)` polls (or serves the webhook)."""

    def __init__(
        self,
        service: Service,
        application: Application[Any, Any, Any, Any, Any, Any],
        store: Store,
        *,
        moderators: Sequence[str] = (),
        admins_are_moderators: bool = True,
        webhook: WebhookOptions | None = None,
        poll_timeout: float = 10,
        moderators_chat: str | None = None,
    ) -> None:
        self.service = service
        self.app = application
        self.store = store
        self.moderators = frozenset(moderators)
        self.admins_are_moderators = admins_are_moderators
        self.webhook = webhook
        self.poll_timeout = poll_timeout
        self.moderators_chat = moderators_chat
        self.state = "connecting"
        self._admins: dict[int, tuple[float, frozenset[int]]] = {}
        self._last_update = int(self._get(_LAST_UPDATE) or 0)
        application.add_handler(TypeHandler(Update, self._dedupe), group=-1)
        application.add_handler(MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT, self._on_message))
        application.add_handler(CallbackQueryHandler(self._on_callback))
        application.add_handler(TypeHandler(Update, self._done), group=1)
        application.add_error_handler(self._on_error)

    @staticmethod
    def from_settings(service: Service, settings: Settings, store: Store) -> TelegramTransport:
        assert settings.telegram_token is not None
        app = build_application(settings.telegram_token, settings.telegram_base_url)
        webhook = None
        if settings.telegram_webhook_listen and settings.telegram_webhook_url:
            webhook = WebhookOptions(
                settings.telegram_webhook_listen, settings.telegram_webhook_url, settings.telegram_webhook_secret
            )
        return TelegramTransport(
            service,
            app,
            store,
            moderators=settings.telegram_moderators,
            admins_are_moderators=settings.telegram_admins_are_moderators,
            webhook=webhook,
            moderators_chat=settings.telegram_moderators_chat,
        )

    async def notify_moderators(self, text: str) -> None:
        """Report to the moderators' chat, if one is configured (e.g. a failed reload)."""
        if self.moderators_chat and self.state == "connected":
            await self._send(int(self.moderators_chat), html.escape(text, quote=False)[:MAX_TEXT], None, None, None)

    # ---------------------------------------------------------------- lifecycle
    async def run(self, stop: asyncio.Event) -> None:
        """Connect (retrying with backoff), serve until `stop` is set, then shut down cleanly."""
        delay = 1.0
        while not stop.is_set():
            try:
                await self.app.initialize()
                break
            except (NetworkError, TelegramError) as exc:
                self.state = "down"
                logger.warning("Telegram: cannot connect (%s); retrying in %.0f s", exc, delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                delay = min(delay * 2, 60)
        if stop.is_set():
            return
        try:
            await self.app.start()
            with contextlib.suppress(TelegramError):
                await self.app.bot.set_my_commands([BotCommand(c, d) for c, d in COMMANDS])
            if self.webhook is not None:
                host, _, port = self.webhook.listen.rpartition(":")
                await self.app.updater.start_webhook(  # type: ignore[union-attr]
                    listen=host or "127.0.0.1",
                    port=int(port),
                    url_path="telegram",
                    webhook_url=self.webhook.url,
                    secret_token=self.webhook.secret,
                    allowed_updates=["message", "callback_query"],
                )
            else:
                await self.app.updater.start_polling(  # type: ignore[union-attr]
                    timeout=timedelta(seconds=self.poll_timeout),
                    poll_interval=0,
                    allowed_updates=["message", "callback_query"],
                    error_callback=self._polling_error,
                )
            self.state = "connected"
            logger.info("Telegram: connected as @%s", self.app.bot.username)
            await stop.wait()
        finally:
            self.state = "down"
            with contextlib.suppress(Exception):
                if self.app.updater is not None and self.app.updater.running:
                    await self.app.updater.stop()
            with contextlib.suppress(Exception):
                if self.app.running:
                    await self.app.stop()
            await self.app.shutdown()

    def _polling_error(self, exc: TelegramError) -> None:
        self.state = "connected" if isinstance(exc, RetryAfter) else "down"
        logger.warning("Telegram: polling error: %s", exc)

    # ---------------------------------------------------------------- bookkeeping
    def _get(self, name: str) -> str | None:
        try:
            return self.store.get_value(name)
        except Exception:  # the store reports its own errors; polling must go on
            logger.exception("Telegram: cannot read %s", name)
            return None

    async def _dedupe(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if isinstance(update, Update) and update.update_id <= self._last_update:
            logger.info("Telegram: skipping update %d, already processed", update.update_id)
            raise ApplicationHandlerStop

    async def _done(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if isinstance(update, Update) and update.update_id > self._last_update:
            self._last_update = update.update_id
            try:
                self.store.set_value(_LAST_UPDATE, str(update.update_id))
            except Exception:
                logger.exception("Telegram: cannot save the last update id")

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        logger.error("Telegram: error while handling an update: %s", context.error, exc_info=context.error)
        if isinstance(update, Update):
            await self._done(update, context)

    # ---------------------------------------------------------------- moderators
    async def _is_moderator(self, message: Message) -> bool:
        user = message.from_user
        if user is None:
            return False
        if str(user.id) in self.moderators:
            return True
        if not self.admins_are_moderators or message.chat.type == "private":
            return False
        text = (message.text or "").lstrip()
        if not text[1:].lower().startswith("kb") or text[:1] not in "/!":
            return False  # only moderator commands need the admin list
        cached = self._admins.get(message.chat.id)
        if cached is None or time.monotonic() - cached[0] > _ADMIN_TTL:
            try:
                admins = await message.chat.get_administrators()
            except TelegramError as exc:
                logger.warning("Telegram: cannot list administrators of %s: %s", message.chat.id, exc)
                return False
            cached = (time.monotonic(), frozenset(a.user.id for a in admins))
            self._admins[message.chat.id] = cached
        return user.id in cached[1]

    # ---------------------------------------------------------------- handlers
    async def _on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        if message is None:
            return
        bot = context.bot
        incoming = to_incoming(message, bot_id=bot.id, bot_username=bot.username or "")
        if incoming is None:
            return
        if await self._is_moderator(message):
            incoming = replace(incoming, is_moderator=True)
        logger.debug("Telegram: message in %s: %r", incoming.chat, incoming.text)
        replies = self.service.handle(incoming)
        await self._send_all(message.chat_id, replies, incoming)

    async def _on_callback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or query.message is None or not isinstance(query.message, Message):
            if query is not None:
                await _answer(query, "This button no longer works.", alert=True)
            return
        parsed = parse_callback(query.data or "")
        if parsed is None:
            await _answer(query, "Sorry, I don't know this button.", alert=True)
            return
        owner, value = parsed
        presser = str(query.from_user.id)
        if owner is not None and owner != presser:
            await _answer(query, "This questionnaire belongs to someone else. Start your own with /quiz.", alert=True)
            return
        message = query.message
        thread = str(message.message_thread_id) if message.is_topic_message and message.message_thread_id else None
        incoming = Incoming(
            network="telegram",
            chat=str(message.chat.id),
            user=presser,
            text="",
            received_at=datetime.now(UTC),  # the press happens now; Telegram does not date it
            chat_kind=ChatKind.DIRECT if message.chat.type == "private" else ChatKind.GROUP,
            thread=thread,
            message_id=str(message.message_id),
            user_name=query.from_user.first_name,
            option=value,
        )
        replies = self.service.handle(incoming)
        if replies and replies[0].kind is ReplyKind.INVALID and replies[0].data == {"type": "invalid", "text": "stale"}:
            await _answer(
                query, "This questionnaire has already ended or expired. Type /quiz to start again.", alert=True
            )
            with contextlib.suppress(TelegramError):
                await message.edit_reply_markup(reply_markup=None)
            return
        await _answer(query, None)
        if owner is not None and replies and replies[0].kind is not ReplyKind.INVALID:
            await self._mark_chosen(message, query.data or "")
        await self._send_all(message.chat_id, replies, incoming)

    async def _mark_chosen(self, message: Message, data: str) -> None:
        """Show the chosen answer in the question message and remove its keyboard."""
        chosen = ""
        markup = message.reply_markup
        for row in markup.inline_keyboard if markup else ():
            for button in row:
                if button.callback_data == data:
                    chosen = button.text
        try:
            await message.edit_text(
                f"{message.text_html}\n\n➜ <i>{html.escape(chosen, quote=False)}</i>",
                parse_mode=ParseMode.HTML,
                reply_markup=None,
            )
        except TelegramError as exc:
            logger.warning("Telegram: could not edit the question message: %s", exc)

    # ---------------------------------------------------------------- sending
    async def _send_all(self, chat_id: int, replies: Sequence[Reply], incoming: Incoming) -> None:
        key = SessionKey.of(incoming)
        for reply in replies:
            text, keyboard = render(reply, incoming.user)
            sent = await self._send(chat_id, text, keyboard, incoming.message_id, incoming.thread)
            if sent is not None and reply.kind is ReplyKind.QUESTION:
                self.service.set_quiz_message(key, str(sent.message_id))

    async def _send(
        self,
        chat_id: int,
        text: str,
        keyboard: InlineKeyboardMarkup | None,
        reply_to: str | None,
        thread: str | None,
    ) -> Message | None:
        reply_parameters = (
            ReplyParameters(int(reply_to), allow_sending_without_reply=True)
            if reply_to and reply_to.isdigit()
            else None
        )
        delay = 0.5
        for attempt in range(1, _SEND_ATTEMPTS + 1):
            try:
                sent: Message = await self.app.bot.send_message(
                    chat_id,
                    text,
                    parse_mode=ParseMode.HTML,
                    reply_markup=keyboard,
                    reply_parameters=reply_parameters,
                    message_thread_id=int(thread) if thread and thread.isdigit() else None,
                )
                return sent
            except Forbidden as exc:  # blocked or kicked: retrying would only storm
                logger.warning("Telegram: cannot send to %s (%s); not retrying", chat_id, exc)
                return None
            except RetryAfter as exc:
                wait = (
                    exc.retry_after.total_seconds()
                    if isinstance(exc.retry_after, timedelta)
                    else float(exc.retry_after)
                )
                logger.warning("Telegram: rate limited, retrying in %.1f s", wait)
                await asyncio.sleep(wait)
            except BadRequest as exc:
                if reply_parameters is not None and "reply" in str(exc).lower():
                    reply_parameters = None
                    continue
                logger.error("Telegram: message refused by the Bot API: %s", exc)
                return None
            except NetworkError as exc:  # timeouts, 5xx
                if attempt == _SEND_ATTEMPTS:
                    logger.error("Telegram: giving up sending to %s after %d attempts: %s", chat_id, attempt, exc)
                    return None
                logger.warning("Telegram: send failed (%s); retry %d in %.1f s", exc, attempt, delay)
                await asyncio.sleep(delay)
                delay *= 2
        return None


async def _answer(query: CallbackQuery, text: str | None, *, alert: bool = False) -> None:
    try:
        await query.answer(text, show_alert=alert)
    except TelegramError as exc:
        logger.warning("Telegram: could not answer a button press: %s", exc)
