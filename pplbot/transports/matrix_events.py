"""Matrix events <-> core messages, as pure functions over matrix-nio's event objects.

`to_incoming` decides whether an event is for the bot (group-room etiquette: commands,
mentions, replies to the bot, an active questionnaire thread; everything in a direct chat) and
translates it into an `Incoming`; `render` turns a `Reply` into the content of an `m.notice`.
What the bot has sent before is asked through the small `Known` protocol, so these functions
need no network and can be tested on events built with `Event.parse_event(dict)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from nio import Event, MatrixRoom, ReactionEvent, RoomMessageText

from pplbot.core.commands import parse_command
from pplbot.core.messages import ChatKind, Incoming, Reply, ReplyKind
from pplbot.core.normalizing import words
from pplbot.core.quiz_flow import control_word
from pplbot.core.quiz_views import HINT
from pplbot.core.sessions import SessionKey
from pplbot.transports.markup import MATRIX, hints, numbered, to_html, to_plain

__all__ = [
    "KEYCAPS",
    "LEAVE",
    "NETWORK",
    "Context",
    "Edit",
    "Known",
    "QuestionRef",
    "edit_of",
    "edited",
    "invite_allowed",
    "reaction_index",
    "render",
    "strip_reply_fallback",
    "to_incoming",
    "too_old",
]

NETWORK = "matrix"
KEYCAPS: tuple[str, ...] = tuple(f"{n}\ufe0f\u20e3" for n in range(1, 10))  # 1️⃣ .. 9️⃣
LEAVE = "/leave"  # what "<prefix> leave" becomes; the transport acts on it for moderators
MODERATOR_LEVEL = 50

# Core commands answered in group rooms when typed as "!name" or "/name" (other bots' commands
# are left alone), and the words that "<prefix> word" turns into a command.
_CORE_COMMANDS = frozenset(
    "help h start about sources ask ppl q quiz check questionnaire entry more back restart why cancel".split()
)
_COMMANDS_WITH_ARGS = frozenset(["ask", "q", "entry", "start"])
_MENTION_END = frozenset(":,; \t\n")
# "hey pplbot, ..." addresses the bot: words that may come before its name (an "@name" may
# follow any words) within the first `_ADDRESS_REACH` words.
_GREETINGS = frozenset("hey hi hello dear ok okay yo so hola oye hallo moin salut coucou bonjour ola olá oi".split())
_ADDRESS_REACH = 3
_LISTED_CREATOR_VERSIONS = frozenset(str(v) for v in range(1, 12))  # creators appear in power_levels.users


@dataclass(frozen=True, slots=True)
class QuestionRef:
    """A questionnaire question the bot sent: whose session it belongs to and its option values."""

    key: SessionKey
    options: tuple[str, ...]


class Known(Protocol):
    """What the transport remembers (the bot's own events, its questions, running questionnaires)."""

    def is_bot_event(self, event_id: str) -> bool: ...

    def question(self, event_id: str) -> QuestionRef | None: ...

    def quiz_running(self, key: SessionKey) -> bool: ...

    def quiz_thread(self, room_id: str, user: str) -> str | None:
        """The thread of `user`'s running questionnaire in `room_id`, if there is one."""
        ...

    def room_creators(self, room_id: str) -> frozenset[str]:
        """The room's creators (from its m.room.create event), if known."""
        ...


@dataclass(frozen=True, slots=True)
class Context:
    """Who the bot is and how it is addressed."""

    bot_id: str
    bot_names: tuple[str, ...] = ()  # display names, e.g. ("PPL Bot",)
    prefix: str = "!ppl"
    moderators: frozenset[str] = frozenset()
    power_level_moderators: bool = True

    @property
    def localpart(self) -> str:
        return self.bot_id[1:].split(":", 1)[0]


# --------------------------------------------------------------------------- in


def _timestamp(ts: object) -> datetime | None:
    """An event's origin_server_ts as a datetime, or None when it is missing or out of range."""
    if not isinstance(ts, int) or isinstance(ts, bool):
        return None
    try:
        return datetime.fromtimestamp(ts / 1000, UTC)
    except (ValueError, OverflowError, OSError):
        return None


def too_old(event: object, now: datetime, max_age: timedelta) -> bool:
    """True if the event was sent more than `max_age` before `now` (missed while down)."""
    sent = _timestamp(getattr(event, "server_timestamp", None))
    return sent is not None and now - sent > max_age


def to_incoming(event: object, room: MatrixRoom, ctx: Context, known: Known) -> Incoming | None:
    """The core message for `event`, or None when the event is not for the bot.

    Ignored: the bot's own events, notices (other bots), edits, non-text messages, and in group
    rooms everything that is not a command, a mention, a reply to the bot or an answer in the
    sender's questionnaire thread. Malformed content is treated as absent, never raised.
    """
    sender = getattr(event, "sender", None)
    if not isinstance(sender, str) or sender == ctx.bot_id:
        return None
    if isinstance(event, ReactionEvent):
        return _from_reaction(event, room, ctx, known)
    if not isinstance(event, RoomMessageText):  # notices (other bots), emotes and media are not questions
        return None
    content = _dict(event.source.get("content"))
    if "m.new_content" in content:
        return None
    relates = _dict(content.get("m.relates_to"))
    rel_type = relates.get("rel_type")
    if rel_type == "m.replace":
        return None
    thread = _str(relates.get("event_id")) if rel_type == "m.thread" else None
    reply_to = _str(_dict(relates.get("m.in_reply_to")).get("event_id"))
    real_reply = reply_to is not None and not (thread is not None and relates.get("is_falling_back") is True)
    body = _str(content.get("body")) or ""
    quotes_bot = body.startswith(f"> <{ctx.bot_id}>")
    if reply_to is not None:
        body = strip_reply_fallback(body)
    direct = _is_direct(room)
    key = SessionKey(NETWORK, room.room_id, sender, thread)
    names = _bot_names(room, ctx)

    text: str | None
    after_prefix = _strip_prefix(body, ctx.prefix)
    after_mention = _strip_mention(body, names)
    quiz_thread = None if direct or thread is not None else _main_timeline_quiz(body, sender, room, reply_to, known)
    if quiz_thread is not None:  # an answer to the sender's questionnaire, sent outside its thread
        thread, text = quiz_thread, body
    elif after_prefix is not None:
        text = _command_words(after_prefix)
    elif after_mention is not None:
        text = _command_words(after_mention)
    elif (
        direct
        or ctx.bot_id in _mentioned(content)
        or (real_reply and reply_to is not None and (quotes_bot or known.is_bot_event(reply_to)))
        or (thread is not None and known.quiz_running(key))
        or _is_core_command(body)
    ):
        text = body
    else:
        return None
    return Incoming(
        network=NETWORK,
        chat=room.room_id,
        user=sender,
        text=text.strip(),
        received_at=_received_at(event),
        chat_kind=ChatKind.DIRECT if direct else ChatKind.GROUP,
        thread=thread,
        message_id=_str(getattr(event, "event_id", None)),
        user_name=_user_name(room, sender),
        is_moderator=is_moderator(room, sender, ctx, known.room_creators(room.room_id)),
    )


def _from_reaction(event: ReactionEvent, room: MatrixRoom, ctx: Context, known: Known) -> Incoming | None:
    """A number reaction on one of the bot's questions, by the person taking the questionnaire."""
    reacts_to = _str(event.reacts_to)
    index = reaction_index(_str(event.key) or "")
    if reacts_to is None or index is None:
        return None
    ref = known.question(reacts_to)
    if ref is None or ref.key.user != event.sender or ref.key.chat != room.room_id or index >= len(ref.options):
        return None
    return Incoming(
        network=NETWORK,
        chat=room.room_id,
        user=event.sender,
        text="",
        received_at=_received_at(event),
        chat_kind=ChatKind.DIRECT if _is_direct(room) else ChatKind.GROUP,
        thread=ref.key.thread,
        message_id=reacts_to,  # replies go to the question that was answered
        user_name=_user_name(room, event.sender),
        option=ref.options[index],
        is_moderator=is_moderator(room, event.sender, ctx, known.room_creators(room.room_id)),
    )


@dataclass(frozen=True, slots=True)
class Edit:
    """An m.replace edit: which message it edits, its new content, who sent it and when."""

    original: str
    content: dict[str, Any]
    sender: str
    at: datetime | None


def edit_of(event: object) -> Edit | None:
    """The edit an event carries (m.replace with a text m.new_content), else None."""
    content = _dict(_dict(getattr(event, "source", None)).get("content"))
    relates = _dict(content.get("m.relates_to"))
    new = _dict(content.get("m.new_content"))
    original = _str(relates.get("event_id"))
    sender = _str(getattr(event, "sender", None))
    if relates.get("rel_type") != "m.replace" or original is None or sender is None or not _str(new.get("body")):
        return None
    return Edit(original, new, sender, _timestamp(getattr(event, "server_timestamp", None)))


def edited(original: object, edit: Edit, window: timedelta) -> RoomMessageText | None:
    """`original` as `edit` rewrote it, when the edit is its sender's own and came within
    `window` of it; else None. Thread and reply relations stay those of the original."""
    if not isinstance(original, RoomMessageText) or original.sender != edit.sender:
        return None
    sent = _timestamp(original.server_timestamp)
    if sent is None or edit.at is None or not timedelta(0) <= edit.at - sent <= window:
        return None
    source = dict(original.source)
    content = {k: v for k, v in edit.content.items() if k != "m.relates_to"}
    relates = _dict(_dict(source.get("content")).get("m.relates_to"))
    if relates:
        content["m.relates_to"] = relates
    source["content"] = content
    parsed = Event.parse_event(source)
    return parsed if isinstance(parsed, RoomMessageText) else None


def invite_allowed(allowed: tuple[str, ...], room_id: str, inviter: str | None) -> bool:
    """Invites are accepted from anyone when `allowed` is empty, else if the room id, the
    inviter's user id or the inviter's homeserver is listed."""
    if not allowed:
        return True
    server = inviter.split(":", 1)[1] if inviter and ":" in inviter else None
    return any(entry in {room_id, inviter, server} for entry in allowed)


def reaction_index(key: str) -> int | None:
    """0-based option index of a number reaction (1️⃣ .. 9️⃣, or a bare digit), else None."""
    bare = key.replace("\ufe0f", "").removesuffix("\u20e3").strip()
    if len(bare) == 1 and "1" <= bare <= "9":
        return int(bare) - 1
    return None


def is_moderator(room: MatrixRoom, user: str, ctx: Context, creators: frozenset[str] = frozenset()) -> bool:
    """A configured moderator, or (if enabled) power level >= 50. Since room version 12 the
    creators have unlimited power without being listed in m.room.power_levels."""
    if user in ctx.moderators:
        return True
    if not ctx.power_level_moderators:
        return False
    if user in creators and str(getattr(room, "room_version", "1")) not in _LISTED_CREATOR_VERSIONS:
        return True
    try:
        return int(room.power_levels.get_user_level(user)) >= MODERATOR_LEVEL
    except (AttributeError, TypeError, ValueError):
        return False


def strip_reply_fallback(body: str) -> str:
    """Drop the quoted "> <@user:hs> ..." lines that older clients put before a reply."""
    lines = body.split("\n")
    if not lines or not lines[0].startswith("> "):
        return body
    rest = lines[:]
    while rest and rest[0].startswith(">"):
        rest.pop(0)
    if rest and not rest[0].strip():
        rest.pop(0)
    return "\n".join(rest)


def _is_direct(room: MatrixRoom) -> bool:
    try:
        return int(room.member_count) <= 2
    except (TypeError, ValueError):
        return False


def _bot_names(room: MatrixRoom, ctx: Context) -> tuple[str, ...]:
    names = [ctx.bot_id, *ctx.bot_names, "@" + ctx.localpart, ctx.localpart]
    user = room.users.get(ctx.bot_id) if isinstance(room.users, Mapping) else None
    nick = getattr(user, "display_name", None)
    if isinstance(nick, str):
        names.append(nick)
    unique = {n.strip() for n in names if n and n.strip()}
    return tuple(sorted(unique, key=len, reverse=True))  # longest first: "PPL Bot" before "PPL"


def _strip_prefix(body: str, prefix: str) -> str | None:
    text = body.lstrip()
    if not prefix or not text.lower().startswith(prefix.lower()):
        return None
    rest = text[len(prefix) :]
    if rest and rest[0] not in _MENTION_END:
        return None  # "!pplx" is not "!ppl"
    return rest.lstrip(":,; \t\n")


def _strip_mention(body: str, names: tuple[str, ...]) -> str | None:
    """The text after the bot's name when the message addresses the bot by name in its first
    words ("pplbot: ...", "hey pplbot, ...", "so @pplbot what ..."), else None."""
    text = body.lstrip()
    lowered = text.lower()
    for name in names:
        at = lowered.find(name.lower())
        while at >= 0:
            before, rest = text[:at], text[at + len(name) :]
            lead = [w.strip(",.!:;") for w in before.lower().split()]
            if len(lead) > _ADDRESS_REACH:
                break
            boundary = (not before or before[-1].isspace()) and (not rest or rest[0] in _MENTION_END)
            if boundary and (name.startswith("@") or all(w in _GREETINGS for w in lead)):
                return rest.lstrip(":,; \t\n")
            at = lowered.find(name.lower(), at + 1)
    return None


def _main_timeline_quiz(body: str, sender: str, room: MatrixRoom, reply_to: str | None, known: Known) -> str | None:
    """For clients without threads: a reply to the sender's own questionnaire question, or a bare
    option number or control word ("2", "back") from someone with a questionnaire running in the
    room, belongs to that questionnaire. Returns its thread."""
    if reply_to is not None:
        ref = known.question(reply_to)
        if ref is not None and ref.key.user == sender and ref.key.chat == room.room_id and ref.key.thread:
            return ref.key.thread if known.quiz_running(ref.key) else None
    bare = body.strip()  # the reply fallback is already stripped
    if (len(bare) == 1 and "1" <= bare <= "9") or control_word(" ".join(words(bare))) is not None:
        return known.quiz_thread(room.room_id, sender)
    return None


def _command_words(rest: str) -> str:
    """ "help" -> "/help", "ask x" -> "/ask x", "leave" -> LEAVE; anything else is text for the core."""
    parts = rest.split(maxsplit=1)
    if not parts:
        return ""
    first = parts[0].lower()
    if first == "leave" and len(parts) == 1:
        return LEAVE
    if first in _CORE_COMMANDS and (len(parts) == 1 or first in _COMMANDS_WITH_ARGS):
        return "/" + rest.lstrip()
    return rest


def _is_core_command(body: str) -> bool:
    command = parse_command(body)
    return command is not None and command.name in _CORE_COMMANDS


def _mentioned(content: Mapping[str, Any]) -> list[str]:
    ids = _dict(content.get("m.mentions")).get("user_ids")
    return [i for i in ids if isinstance(i, str)] if isinstance(ids, list) else []


def _received_at(event: object) -> datetime:
    return _timestamp(getattr(event, "server_timestamp", None)) or datetime.now(UTC)


def _user_name(room: MatrixRoom, user: str) -> str | None:
    try:
        name = room.user_name(user)
    except (AttributeError, KeyError):
        return None
    return name if isinstance(name, str) else None


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


# --------------------------------------------------------------------------- out


def render(reply: Reply, *, thread: str | None = None, mention: str | None = None) -> dict[str, Any]:
    """The `m.room.message` content for a reply: an `m.notice` with a plain body and escaped HTML,
    options as a numbered list, a reply relation to the question and the thread it was asked in."""
    body = hints(reply.text, MATRIX)
    plain = to_plain(body)
    html = _html_lines(body)
    if reply.options:
        labels = [o.label for o in reply.options]
        plain += "\n\n" + numbered([to_plain(label) for label in labels])
        html += "<ol>" + "".join(f"<li>{to_html(label)}</li>" for label in labels) + "</ol>"
        if reply.kind is ReplyKind.QUESTION:
            plain += "\n" + to_plain(f"_{HINT}_")
            html += _html_lines(f"_{HINT}_")
    content: dict[str, Any] = {
        "msgtype": "m.notice",
        "body": plain,
        "format": "org.matrix.custom.html",
        "formatted_body": html,
        "m.mentions": {"user_ids": [mention]} if mention else {},
    }
    if thread is not None:
        content["m.relates_to"] = {
            "rel_type": "m.thread",
            "event_id": thread,
            "is_falling_back": reply.reply_to is None,
            "m.in_reply_to": {"event_id": reply.reply_to or thread},
        }
    elif reply.reply_to is not None:
        content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply.reply_to}}
    return content


def _html_lines(text: str) -> str:
    return to_html(text).replace("\n", "<br>")
