"""A protocol-faithful fake of the Telegram Bot API for tests.

Speaks real HTTP on 127.0.0.1 so python-telegram-bot's own httpx stack runs:

    async with FakeBotApi() as fake:
        app = ApplicationBuilder().token(fake.token).base_url(fake.base_url).build()
        ...
        fake.send_text(42, 42, "/start")
        call = await fake.wait_for("sendMessage")

Deliberately stricter than Telegram in one place: with parse_mode=HTML a bare
``<``, ``>`` or ``&`` is refused, so tests prove that user text is escaped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Self

import aiohttp
from aiohttp import web

JsonDict = dict[str, Any]
Handler = Callable[[JsonDict], Awaitable[Any]]

MAX_TEXT = 4096
_JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "commands",
        "scope",
        "allowed_updates",
        "link_preview_options",
        "reply_parameters",
        "media",
        "results",
        "permissions",
    }
)
_INT_FIELDS = frozenset(
    {
        "chat_id",
        "message_id",
        "user_id",
        "offset",
        "limit",
        "timeout",
        "message_thread_id",
        "reply_to_message_id",
        "cache_time",
        "max_connections",
        "from_chat_id",
    }
)
_BOOL_FIELDS = frozenset(
    {
        "disable_notification",
        "protect_content",
        "drop_pending_updates",
        "show_alert",
        "allow_sending_without_reply",
        "disable_web_page_preview",
    }
)
_DEFAULT_UPDATES_OFF = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict",
    500: "Internal Server Error",
    502: "Bad Gateway",
}
_ADMIN_RIGHTS = (
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
    "can_pin_messages",
)


@dataclass
class Call:
    """One recorded API call; ``status``/``result``/``description`` are filled when answered."""

    method: str
    params: JsonDict
    time: float
    status: int | None = None
    result: Any = None
    description: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200


class ApiError(Exception):
    def __init__(self, status: int, description: str, parameters: JsonDict | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


def _bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram entity offsets."""
    return len(text.encode("utf-16-le")) // 2


# ---------------------------------------------------------------- HTML parse mode
_TAG_RE = re.compile(
    r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z][a-zA-Z0-9-]*"
    r"(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'<>=`]+))?)*)\s*>"
)
_ATTR_RE = re.compile(r"([a-zA-Z][a-zA-Z0-9-]*)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'<>=`]+)))?")
_ENTITY_RE = re.compile(r"&(?:(lt|gt|amp|quot)|#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6}));")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "code": "code",
    "pre": "pre",
}
_ALLOWED_TAGS = frozenset(_SIMPLE_TAGS) | {"a", "blockquote", "tg-emoji"}


def _unescape_attr(value: str) -> str:
    return _ENTITY_RE.sub(lambda m: _decode_entity(m), value)


def _decode_entity(m: re.Match[str]) -> str:
    if m.group(1):
        return _NAMED[m.group(1)]
    code = int(m.group(2), 10) if m.group(2) else int(m.group(3), 16)
    return chr(code) if 0 < code <= 0x10FFFF else "\ufffd"


def parse_html(text: str) -> tuple[str, list[JsonDict]]:
    """Telegram-style HTML → (plain text, entities). Raises ApiError(400) like Telegram."""

    def fail(reason: str, pos: int) -> ApiError:
        offset = len(text[:pos].encode())
        return _bad(f"can't parse entities: {reason} at byte offset {offset}")

    out: list[str] = []
    length = 0
    stack: list[tuple[str, dict[str, str], int]] = []
    entities: list[JsonDict] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "<":
            m = _TAG_RE.match(text, i)
            if m is None:
                raise fail("Unexpected '<' (unescaped or malformed tag)", i)
            name = m.group(2).lower()
            if m.group(1):
                if not stack:
                    raise fail(f'Unexpected end tag "</{name}>"', i)
                if stack[-1][0] != name:
                    raise fail(f'Unmatched end tag, expected "</{stack[-1][0]}>", found "</{name}>"', i)
                tag, attrs, start = stack.pop()
                entity = _entity_for(tag, attrs, start, length - start, stack)
                if entity is not None and entity["length"] > 0:
                    entities.append(entity)
            else:
                if name not in _ALLOWED_TAGS:
                    raise fail(f'Unsupported start tag "{name}"', i)
                attrs = {
                    a.group(1).lower(): _unescape_attr(a.group(2) or a.group(3) or a.group(4) or "")
                    for a in _ATTR_RE.finditer(m.group(3))
                }
                if name == "a" and not attrs.get("href"):
                    raise fail('Tag "a" must have attribute "href"', i)
                if name == "span" and attrs.get("class") != "tg-spoiler":
                    raise fail('Tag "span" must have class "tg-spoiler"', i)
                if name == "tg-emoji" and not attrs.get("emoji-id"):
                    raise fail('Tag "tg-emoji" must have attribute "emoji-id"', i)
                stack.append((name, attrs, length))
            i = m.end()
            continue
        if ch == ">":
            raise fail("Unexpected '>' (must be escaped as &gt;)", i)
        if ch == "&":
            em = _ENTITY_RE.match(text, i)
            if em is None:
                raise fail("Unsupported HTML entity (a bare '&' must be escaped as &amp;)", i)
            piece = _decode_entity(em)
            i = em.end()
        else:
            piece = ch
            i += 1
        out.append(piece)
        length += utf16_len(piece)
    if stack:
        raise _bad(f"can't parse entities: Can't find end tag corresponding to start tag \"{stack[-1][0]}\"")
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _entity_for(
    tag: str, attrs: dict[str, str], offset: int, length: int, stack: list[tuple[str, dict[str, str], int]]
) -> JsonDict | None:
    entity: JsonDict = {"offset": offset, "length": length}
    if tag == "a":
        return {"type": "text_link", **entity, "url": attrs["href"]}
    if tag == "blockquote":
        kind = "expandable_blockquote" if "expandable" in attrs else "blockquote"
        return {"type": kind, **entity}
    if tag == "tg-emoji":
        return {"type": "custom_emoji", **entity, "custom_emoji_id": attrs["emoji-id"]}
    if tag == "code" and stack and stack[-1][0] == "pre":
        language = attrs.get("class", "")
        if language.startswith("language-"):
            stack[-1][1]["language"] = language[len("language-") :]
            return None
    if tag == "pre" and attrs.get("language"):
        return {"type": "pre", **entity, "language": attrs["language"]}
    return {"type": _SIMPLE_TAGS[tag], **entity}


# ---------------------------------------------------------------- the server
class FakeBotApi:
    """Fake Bot API server. Start with ``await start()`` or ``async with``."""

    def __init__(
        self,
        *,
        token: str = "123456:TEST-TOKEN",
        username: str = "pplbot_test_bot",
        first_name: str = "PPL Test Bot",
        strict_chats: bool = False,
    ) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_user: JsonDict = {"id": self.bot_id, "is_bot": True, "first_name": first_name, "username": username}
        self.strict_chats = strict_chats  # unknown chat ids → "chat not found" instead of auto-create
        self.calls: list[Call] = []
        self.webhook: JsonDict | None = None
        self.bot_commands: dict[tuple[str, str], list[JsonDict]] = {}
        self._updates: list[JsonDict] = []
        self._next_update_id = 1
        self._allowed_updates: frozenset[str] | None = None
        self._poll_generation = 0
        self._closing = False
        self._changed = asyncio.Event()
        self._chats: dict[int, JsonDict] = {}
        self._users: dict[int, JsonDict] = {}
        self._chat_users: defaultdict[int, set[int]] = defaultdict(set)
        self._admins: dict[int, list[JsonDict]] = {}
        self._members: dict[tuple[int, int], JsonDict] = {}
        self._messages: dict[tuple[int, int], JsonDict] = {}
        self._last_message_id: defaultdict[int, int] = defaultdict(int)
        self._gone: set[int] = set()  # chats where the bot was blocked / left / kicked
        self._open_queries: set[str] = set()
        self._next_query = 1000
        self._faults: defaultdict[str, deque[ApiError]] = defaultdict(deque)
        self._runner: web.AppRunner | None = None
        self._port = 0
        handlers: dict[str, Handler] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "answerCallbackQuery": self._answer_callback_query,
            "getChat": self._get_chat,
            "getChatAdministrators": self._get_chat_administrators,
            "getChatMember": self._get_chat_member,
            "deleteMessage": self._delete_message,
            "sendChatAction": self._send_chat_action,
            "leaveChat": self._leave_chat,
        }
        self._methods = {name.lower(): (name, fn) for name, fn in handlers.items()}

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._closing = False
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        self._closing = True
        self._notify()  # wakes pending long polls, which then answer []
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}/bot"

    @property
    def username(self) -> str:
        return str(self.bot_user["username"])

    # ------------------------------------------------------------ HTTP plumbing
    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        entry = self._methods.get(request.match_info["method"].lower())
        if entry is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found: method not found"}, status=404
            )
        name, handler = entry
        call = Call(name, {}, time.monotonic())
        self.calls.append(call)
        body: JsonDict
        try:
            call.params = await self._read_params(request)
            faults = self._faults.get(name)
            if faults:
                raise faults.popleft()
            result = await handler(call.params)
        except ApiError as exc:
            call.status, call.description = exc.status, exc.description
            body = {"ok": False, "error_code": exc.status, "description": exc.description}
            if exc.parameters:
                body["parameters"] = exc.parameters
        else:
            call.status, call.result = 200, result
            body = {"ok": True, "result": result}
        self._notify()
        return web.json_response(body, status=call.status)

    @staticmethod
    async def _read_params(request: web.Request) -> JsonDict:
        raw: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                try:
                    data = await request.json()
                except ValueError:
                    raise _bad("can't parse JSON request body") from None
                if not isinstance(data, dict):
                    raise _bad("JSON request body must be an object")
                raw.update(data)
            elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
                for key, value in (await request.post()).items():
                    raw[key] = value.file.read() if isinstance(value, web.FileField) else value
            else:
                await request.read()
        return {key: _normalize(key, value) for key, value in raw.items()}

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_change(self, seconds: float) -> None:
        event = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), max(seconds, 0.0))

    # ------------------------------------------------------------ recording helpers
    def mark(self) -> int:
        """Index to pass as ``after=`` so that only later calls are considered."""
        return len(self.calls)

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method.lower() == method.lower()]

    def sent_messages(self, chat_id: int | None = None) -> list[JsonDict]:
        return [
            c.result
            for c in self.calls
            if c.method == "sendMessage" and c.ok and (chat_id is None or c.result["chat"]["id"] == chat_id)
        ]

    async def wait_for(
        self, method: str, predicate: Callable[[Call], bool] | None = None, timeout: float = 5.0, *, after: int = 0
    ) -> Call:
        return (await self.wait_for_count(method, 1, predicate, timeout, after=after))[0]

    async def wait_for_count(
        self,
        method: str,
        count: int,
        predicate: Callable[[Call], bool] | None = None,
        timeout: float = 5.0,
        *,
        after: int = 0,
    ) -> list[Call]:
        """Wait until ``count`` calls of ``method`` (matching ``predicate``) from index ``after`` on exist."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            found = [
                c
                for c in self.calls[after:]
                if c.method.lower() == method.lower() and c.status is not None and (predicate is None or predicate(c))
            ]
            if len(found) >= count:
                return found[:count]
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                seen = [f"{c.method}:{c.status}" for c in self.calls[after:]]
                raise AssertionError(f"timed out waiting for {count}x {method}; got {len(found)}; calls: {seen}")
            await self._wait_change(remaining)

    # ------------------------------------------------------------ configuration / faults
    def fail_next(
        self,
        method: str,
        status: int,
        description: str | None = None,
        *,
        retry_after: int | None = None,
        count: int = 1,
        parameters: JsonDict | None = None,
    ) -> None:
        """Make the next ``count`` calls of ``method`` fail with ``status``."""
        entry = self._methods.get(method.lower())
        if entry is None:
            raise ValueError(f"unknown method {method!r}")
        if description is None:
            description = (
                f"Too Many Requests: retry after {retry_after or 1}"
                if status == 429
                else _DEFAULT_DESCRIPTIONS.get(status, f"Error {status}")
            )
        params = dict(parameters or {})
        if retry_after is not None:
            params["retry_after"] = retry_after
        self._faults[entry[0]].extend(ApiError(status, description, params or None) for _ in range(count))

    def add_chat(
        self,
        chat_id: int,
        chat_type: str | None = None,
        *,
        title: str | None = None,
        username: str | None = None,
        first_name: str | None = None,
        is_forum: bool = False,
    ) -> JsonDict:
        """Register (or replace) a chat; ``chat_type`` defaults to private for ids > 0 else supergroup."""
        ctype = chat_type or ("private" if chat_id > 0 else "supergroup")
        chat: JsonDict = {"id": chat_id, "type": ctype}
        if ctype == "private":
            chat["first_name"] = first_name or "Alice"
        else:
            chat["title"] = title or f"Test {ctype} {chat_id}"
        if username:
            chat["username"] = username
        if is_forum and ctype == "supergroup":
            chat["is_forum"] = True
        self._chats[chat_id] = chat
        return chat

    def set_admins(
        self, chat_id: int, admins: Iterable[int | Mapping[str, Any]], *, owner: int | None = None, **rights: bool
    ) -> None:
        """Configure getChatAdministrators; ints become full ChatMemberAdministrator objects."""
        members: list[JsonDict] = []
        if owner is not None:
            members.append({"status": "creator", "user": self._known_user(owner), "is_anonymous": False})
        for admin in admins:
            if isinstance(admin, int):
                member: JsonDict = {
                    "status": "administrator",
                    "user": self._known_user(admin),
                    "can_be_edited": False,
                    "is_anonymous": False,
                }
                member.update({right: rights.get(right, True) for right in _ADMIN_RIGHTS})
                members.append(member)
            else:
                members.append(dict(admin))
        self._admins[chat_id] = members

    def set_member(self, chat_id: int, member: Mapping[str, Any]) -> None:
        """Override getChatMember for (chat_id, member["user"]["id"])."""
        self._members[(chat_id, int(member["user"]["id"]))] = dict(member)

    def set_blocked(self, chat_id: int, blocked: bool = True) -> None:
        """Bot blocked by the user / removed from the group: sending yields 403."""
        (self._gone.add if blocked else self._gone.discard)(chat_id)

    def commands_for(self, scope: Mapping[str, Any] | None = None, language_code: str = "") -> list[JsonDict]:
        return self.bot_commands.get((_scope_key(scope), language_code), [])

    def message(self, chat_id: int, message_id: int) -> JsonDict | None:
        """Current state of a stored message (after edits), or None if unknown/deleted."""
        return self._messages.get((chat_id, message_id))

    # ------------------------------------------------------------ update injection
    def add_update(self, update: Mapping[str, Any]) -> JsonDict:
        """Queue a raw update (update_id assigned if missing) and wake long polls."""
        upd = dict(update)
        upd.setdefault("update_id", self._next_update_id)
        self._next_update_id = max(self._next_update_id, int(upd["update_id"])) + 1
        msg = upd.get("message") or upd.get("edited_message") or upd.get("channel_post")
        if isinstance(msg, dict) and isinstance(msg.get("chat"), dict):
            self._remember(msg)
        self._updates.append(upd)
        self._notify()
        return upd

    def send_text(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        *,
        chat_type: str | None = None,
        first_name: str = "Alice",
        username: str | None = None,
        is_bot: bool = False,
        message_thread_id: int | None = None,
        reply_to_message: Mapping[str, Any] | None = None,
        entities: list[JsonDict] | None = None,
        title: str | None = None,
    ) -> JsonDict:
        """Inject a text message from a user; adds bot_command/mention entities automatically."""
        user = self._make_user(user_id, first_name, username, is_bot)
        chat = self._chats.get(chat_id)
        if chat is None or (chat_type is not None and chat["type"] != chat_type):
            ctype = chat_type or ("private" if chat_id > 0 else "supergroup")
            chat = self.add_chat(
                chat_id, ctype, title=title, first_name=first_name, username=username if ctype == "private" else None
            )
        if message_thread_id is not None and chat["type"] == "supergroup" and not chat.get("is_forum"):
            chat = self._chats[chat_id] = {**chat, "is_forum": True}
        msg: JsonDict = {
            "message_id": self._last_message_id[chat_id] + 1,
            "from": user,
            "chat": chat,
            "date": int(time.time()),
        }
        if message_thread_id is not None:
            msg.update(message_thread_id=message_thread_id, is_topic_message=True)
        if reply_to_message is not None:
            msg["reply_to_message"] = _strip_reply(reply_to_message)
        msg["text"] = text
        ents = entities if entities is not None else auto_entities(text)
        if ents:
            msg["entities"] = ents
        return self.add_update({"message": msg})

    def press_button(
        self,
        chat_id: int,
        user_id: int,
        message: Mapping[str, Any] | int,
        data: str,
        *,
        first_name: str = "Alice",
        username: str | None = None,
        check: bool = True,
    ) -> JsonDict:
        """Inject a callback_query for an inline button of ``message`` (the bot's Message or its id)."""
        mid = message if isinstance(message, int) else int(message["message_id"])
        current = self._messages.get((chat_id, mid))
        if current is None:
            if isinstance(message, int):
                raise ValueError(f"unknown message {mid} in chat {chat_id}")
            current = dict(message)
        if check:
            rows = (current.get("reply_markup") or {}).get("inline_keyboard", [])
            if data not in {b.get("callback_data") for row in rows for b in row}:
                raise ValueError(f"message {mid} has no button with callback_data {data!r}")
        query_id = str(self._next_query)
        self._next_query += 1
        self._open_queries.add(query_id)
        query = {
            "id": query_id,
            "from": self._make_user(user_id, first_name, username, False),
            "chat_instance": str(-abs(chat_id) - 1_000_000),
            "message": current,
            "data": data,
        }
        return self.add_update({"callback_query": query})

    async def post_update_to(self, url: str, update: Mapping[str, Any], secret_token: str | None = None) -> int:
        """POST an update to a bot's webhook like Telegram does; returns the HTTP status.

        A queued update (from send_text/press_button) is removed from the getUpdates queue.
        ``secret_token`` defaults to the one given to setWebhook."""
        upd = dict(update)
        upd.setdefault("update_id", self._next_update_id)
        self._next_update_id = max(self._next_update_id, int(upd["update_id"])) + 1
        self._updates = [u for u in self._updates if u["update_id"] != upd["update_id"]]
        secret = secret_token if secret_token is not None else (self.webhook or {}).get("secret_token")
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
        async with aiohttp.ClientSession() as session, session.post(url, json=upd, headers=headers) as resp:
            await resp.read()
            return resp.status

    # ------------------------------------------------------------ internal state helpers
    def _make_user(self, user_id: int, first_name: str, username: str | None, is_bot: bool) -> JsonDict:
        user: JsonDict = {"id": user_id, "is_bot": is_bot, "first_name": first_name}
        if username:
            user["username"] = username
        self._users[user_id] = user
        return user

    def _known_user(self, user_id: int) -> JsonDict:
        if user_id == self.bot_id:
            return self.bot_user
        return self._users.get(user_id) or self._make_user(user_id, f"User{user_id}", None, False)

    def _remember(self, msg: JsonDict) -> None:
        chat_id, mid = int(msg["chat"]["id"]), int(msg["message_id"])
        self._chats.setdefault(chat_id, msg["chat"])
        self._messages[(chat_id, mid)] = msg
        self._last_message_id[chat_id] = max(self._last_message_id[chat_id], mid)
        sender = msg.get("from")
        if isinstance(sender, dict):
            self._users.setdefault(int(sender["id"]), sender)
            self._chat_users[chat_id].add(int(sender["id"]))

    def _chat(self, p: JsonDict, *, sending: bool = False) -> JsonDict:
        ref = p.get("chat_id")
        if ref is None or ref == "":
            raise _bad("chat_id is empty")
        if isinstance(ref, str) and ref.startswith("@"):
            chat = next((c for c in self._chats.values() if c.get("username") == ref[1:]), None)
        elif isinstance(ref, int):
            chat = self._chats.get(ref)
            if chat is None and not self.strict_chats:
                chat = self.add_chat(ref)
        else:
            chat = None
        if chat is None:
            raise _bad("chat not found")
        if sending and chat["id"] in self._gone:
            raise ApiError(
                403,
                {
                    "private": "Forbidden: bot was blocked by the user",
                    "group": "Forbidden: bot was kicked from the group chat",
                }.get(chat["type"], f"Forbidden: bot is not a member of the {chat['type']} chat"),
            )
        return chat

    def _stored(self, p: JsonDict, missing: str) -> JsonDict:
        chat = self._chat(p)
        if p.get("message_id") in (None, ""):
            raise _bad("message identifier is not specified")
        msg = self._messages.get((chat["id"], int(p["message_id"])))
        if msg is None:
            raise _bad(missing)
        return msg

    def _editable(self, p: JsonDict) -> JsonDict | None:
        if p.get("inline_message_id"):
            return None
        msg = self._stored(p, "message to edit not found")
        if msg.get("from", {}).get("id") != self.bot_id:
            raise _bad("message can't be edited")
        return msg

    def _bot_can_delete(self, chat_id: int) -> bool:
        me = next((m for m in self._admins.get(chat_id, []) if m["user"]["id"] == self.bot_id), None)
        return me is not None and (me["status"] == "creator" or bool(me.get("can_delete_messages")))

    # ------------------------------------------------------------ API methods
    async def _get_me(self, p: JsonDict) -> JsonDict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, p: JsonDict) -> list[JsonDict]:
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()  # a newer getUpdates terminates an older pending one, like Telegram
        offset = int(p.get("offset") or 0)
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]
        limit = min(max(int(p.get("limit") or 100), 1), 100)
        allowed = p.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(allowed) or None
        deadline = asyncio.get_running_loop().time() + min(float(p.get("timeout") or 0), 60.0)
        while True:
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                )
            batch = [u for u in self._updates if self._is_allowed(u)][:limit]
            remaining = deadline - asyncio.get_running_loop().time()
            if batch or self._closing or remaining <= 0:
                return batch
            await self._wait_change(remaining)

    def _is_allowed(self, update: JsonDict) -> bool:
        kind = next((k for k in update if k != "update_id"), "")
        if self._allowed_updates is None:
            return kind not in _DEFAULT_UPDATES_OFF
        return kind in self._allowed_updates

    async def _set_webhook(self, p: JsonDict) -> bool:
        url = str(p.get("url") or "")
        if not url:
            return await self._delete_webhook(p)
        if not re.match(r"https?://[^/\s]+", url):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        secret = p.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise _bad("secret token contains unallowed characters")
        if p.get("drop_pending_updates"):
            self._updates.clear()
        self.webhook = {
            "url": url,
            "secret_token": secret,
            "allowed_updates": p.get("allowed_updates"),
            "max_connections": int(p.get("max_connections") or 40),
        }
        self._notify()
        return True

    async def _delete_webhook(self, p: JsonDict) -> bool:
        if p.get("drop_pending_updates"):
            self._updates.clear()
        self.webhook = None
        return True

    async def _get_webhook_info(self, p: JsonDict) -> JsonDict:
        info: JsonDict = {"url": "", "has_custom_certificate": False, "pending_update_count": len(self._updates)}
        if self.webhook is not None:
            info.update(url=self.webhook["url"], max_connections=self.webhook["max_connections"])
            if self.webhook["allowed_updates"] is not None:
                info["allowed_updates"] = self.webhook["allowed_updates"]
        return info

    async def _set_my_commands(self, p: JsonDict) -> bool:
        commands = p.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad("commands must be a list of at most 100 BotCommand")
        cleaned: list[JsonDict] = []
        for cmd in commands:
            if not isinstance(cmd, dict) or not re.fullmatch(r"[a-z0-9_]{1,32}", str(cmd.get("command", ""))):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(cmd.get("description", "")).strip()) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": cmd["command"], "description": cmd["description"]})
        self.bot_commands[(_scope_key(p.get("scope")), str(p.get("language_code") or ""))] = cleaned
        return True

    async def _get_my_commands(self, p: JsonDict) -> list[JsonDict]:
        return self.commands_for(p.get("scope"), str(p.get("language_code") or ""))

    async def _delete_my_commands(self, p: JsonDict) -> bool:
        self.bot_commands.pop((_scope_key(p.get("scope")), str(p.get("language_code") or "")), None)
        return True

    async def _send_message(self, p: JsonDict) -> JsonDict:
        chat = self._chat(p, sending=True)
        text, entities = _message_text(p)
        markup = _inline_markup(p.get("reply_markup"))
        reply = self._reply_target(chat["id"], p)
        msg: JsonDict = {
            "message_id": self._last_message_id[chat["id"]] + 1,
            "from": self.bot_user,
            "chat": chat,
            "date": int(time.time()),
        }
        if p.get("message_thread_id") is not None:
            msg["message_thread_id"] = p["message_thread_id"]
            if chat.get("is_forum"):
                msg["is_topic_message"] = True
        if reply is not None:
            msg["reply_to_message"] = reply
        msg["text"] = text
        if entities:
            msg["entities"] = entities
        if markup is not None:
            msg["reply_markup"] = markup
        self._remember(msg)
        return msg

    def _reply_target(self, chat_id: int, p: JsonDict) -> JsonDict | None:
        params = p.get("reply_parameters")
        mid, allow = p.get("reply_to_message_id"), bool(p.get("allow_sending_without_reply"))
        if isinstance(params, dict):
            mid = params.get("message_id")
            allow = bool(params.get("allow_sending_without_reply", allow))
            if isinstance(params.get("chat_id"), int):
                chat_id = params["chat_id"]
        if mid is None:
            return None
        target = self._messages.get((chat_id, int(mid)))
        if target is None:
            if allow:
                return None
            raise _bad("message to be replied not found")
        return _strip_reply(target)

    async def _edit_message_text(self, p: JsonDict) -> JsonDict | bool:
        msg = self._editable(p)
        text, entities = _message_text(p)
        markup = _inline_markup(p.get("reply_markup"))
        if msg is None:
            return True
        new = {k: v for k, v in msg.items() if k not in ("entities", "reply_markup", "edit_date")}
        new["text"] = text
        if entities:
            new["entities"] = entities
        if markup is not None:
            new["reply_markup"] = markup
        return self._replace(msg, new)

    async def _edit_message_reply_markup(self, p: JsonDict) -> JsonDict | bool:
        msg = self._editable(p)
        markup = _inline_markup(p.get("reply_markup"))
        if msg is None:
            return True
        new = {k: v for k, v in msg.items() if k not in ("reply_markup", "edit_date")}
        if markup is not None:
            new["reply_markup"] = markup
        return self._replace(msg, new)

    def _replace(self, old: JsonDict, new: JsonDict) -> JsonDict:
        if {k: v for k, v in old.items() if k != "edit_date"} == new:
            raise _bad(
                "message is not modified: specified new message content and reply markup are exactly "
                "the same as a current content and reply markup of the message"
            )
        new["edit_date"] = int(time.time())
        self._messages[(new["chat"]["id"], new["message_id"])] = new
        return new

    async def _answer_callback_query(self, p: JsonDict) -> bool:
        query_id = str(p.get("callback_query_id") or "")
        if query_id not in self._open_queries:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        if len(str(p.get("text") or "")) > 200:
            raise _bad("MESSAGE_TOO_LONG")
        self._open_queries.discard(query_id)
        return True

    async def _get_chat(self, p: JsonDict) -> JsonDict:
        chat = self._chat(p)
        gifts = dict.fromkeys(
            ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription", "gifts_from_channels"), False
        )
        return {**chat, "accent_color_id": 0, "max_reaction_count": 11, "accepted_gift_types": gifts}

    async def _get_chat_administrators(self, p: JsonDict) -> list[JsonDict]:
        chat = self._chat(p)
        if chat["type"] == "private":
            raise _bad("there are no administrators in the private chat")
        return list(self._admins.get(chat["id"], []))

    async def _get_chat_member(self, p: JsonDict) -> JsonDict:
        chat = self._chat(p)
        if p.get("user_id") in (None, ""):
            raise _bad("user_id is empty")
        user_id = int(p["user_id"])
        if (chat["id"], user_id) in self._members:
            return self._members[(chat["id"], user_id)]
        admin = next((m for m in self._admins.get(chat["id"], []) if m["user"]["id"] == user_id), None)
        if admin is not None:
            return admin
        if user_id == self.bot_id:
            return {"status": "left" if chat["id"] in self._gone else "member", "user": self.bot_user}
        if user_id not in self._users:
            raise _bad("user not found")
        in_chat = user_id in self._chat_users[chat["id"]]
        return {"status": "member" if in_chat else "left", "user": self._users[user_id]}

    async def _delete_message(self, p: JsonDict) -> bool:
        msg = self._stored(p, "message to delete not found")
        chat = msg["chat"]
        own = msg.get("from", {}).get("id") == self.bot_id
        if not own and chat["type"] != "private" and not self._bot_can_delete(chat["id"]):
            raise _bad("message can't be deleted")
        del self._messages[(chat["id"], msg["message_id"])]
        return True

    async def _send_chat_action(self, p: JsonDict) -> bool:
        self._chat(p, sending=True)
        if p.get("action") not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        return True

    async def _leave_chat(self, p: JsonDict) -> bool:
        chat = self._chat(p)
        if chat["type"] == "private":
            raise _bad("chat member status can't be changed in private chats")
        self._gone.add(chat["id"])
        return True


# ---------------------------------------------------------------- pure helpers
def _normalize(key: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if key in _JSON_FIELDS:
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise _bad(f"can't parse {key} JSON object") from None
    if key in _INT_FIELDS and re.fullmatch(r"-?\d+", value):
        return int(value)
    if key in _BOOL_FIELDS and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def _scope_key(scope: Any) -> str:
    return json.dumps(scope if isinstance(scope, dict) else {"type": "default"}, sort_keys=True)


def _strip_reply(msg: Mapping[str, Any]) -> JsonDict:
    return {k: v for k, v in msg.items() if k != "reply_to_message"}


def _message_text(p: JsonDict) -> tuple[str, list[JsonDict]]:
    raw = p.get("text")
    if raw is None or raw == "":
        raise _bad("message text is empty")
    mode = str(p.get("parse_mode") or "").lower()
    if mode == "html":
        text, entities = parse_html(str(raw))
    else:
        text, given = str(raw), p.get("entities")
        entities = list(given) if isinstance(given, list) else []
    if not text.strip():
        raise _bad("message text is empty")
    if len(text) > MAX_TEXT:
        raise _bad("message is too long")
    return text, entities


def _inline_markup(markup: Any) -> JsonDict | None:
    """Validate reply_markup; only inline keyboards are echoed in the Message (as Telegram does)."""
    if markup is None or markup == "":
        return None
    if not isinstance(markup, dict):
        raise _bad("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        return None
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise _bad("can't parse inline keyboard button: InlineKeyboardMarkup must be an Array of Arrays")
    if sum(len(row) for row in rows) > 100:
        raise _bad("BUTTONS_TOO_MUCH")
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise _bad("can't parse inline keyboard button: Text must be a String")
            if not button["text"]:
                raise _bad("BUTTON_TEXT_INVALID")
            if not any(key in button for key in _BUTTON_ACTIONS):
                raise _bad("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
            if "callback_data" in button:
                data = button["callback_data"]
                if not isinstance(data, str) or not 1 <= len(data.encode()) <= 64:
                    raise _bad("BUTTON_DATA_INVALID")
            if "url" in button and not re.match(r"(https?|tg)://\S+$", str(button["url"])):
                raise _bad(f"inline keyboard button URL '{button['url']}' is invalid: Wrong HTTP URL")
    return {"inline_keyboard": rows}


_MENTION_RE = re.compile(r"(?<![\w@/])@[A-Za-z0-9_]{3,32}\b")


def auto_entities(text: str) -> list[JsonDict]:
    """bot_command at offset 0 for "/cmd[@bot]" and mention entities for "@username" tokens."""
    entities: list[JsonDict] = []
    command_end = 0
    if text.startswith("/"):
        token = re.match(r"/[A-Za-z0-9_]+(?:@[A-Za-z0-9_]+)?", text)
        if token is not None:
            command_end = token.end()
            entities.append({"type": "bot_command", "offset": 0, "length": utf16_len(token.group())})
    for m in _MENTION_RE.finditer(text, command_end):
        entities.append({"type": "mention", "offset": utf16_len(text[: m.start()]), "length": utf16_len(m.group())})
    return entities
