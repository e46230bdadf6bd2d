"""Transport-neutral messages: what comes in from a chat and what goes back out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

__all__ = ["ChatKind", "Incoming", "Option", "Reply", "ReplyKind"]


class ChatKind(StrEnum):
    DIRECT = "direct"
    GROUP = "group"


class ReplyKind(StrEnum):
    """What a reply is, so adapters and metrics can tell answers from small talk."""

    ANSWER = "answer"  # a knowledge-base answer
    SUGGEST = "suggest"  # "did you mean" options
    FALLBACK = "fallback"  # could not answer
    SMALLTALK = "smalltalk"
    INFO = "info"  # help, about, sources, notices
    QUESTION = "question"  # a questionnaire question
    INVALID = "invalid"  # a refused questionnaire answer
    VERDICT = "verdict"  # the end of a questionnaire
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Incoming:
    """One message from a person, already translated by an adapter.

    `network` is "console", "matrix" or "telegram"; `chat` and `user` are the network's ids;
    `thread` is the thread or forum topic, if any. `option` is set when the person pressed a
    button or reaction for an offered option (its value), instead of typing text.
    """

    network: str
    chat: str
    user: str
    text: str
    received_at: datetime
    chat_kind: ChatKind = ChatKind.DIRECT
    thread: str | None = None
    message_id: str | None = None
    user_name: str | None = None
    option: str | None = None
    is_moderator: bool = False


@dataclass(frozen=True, slots=True)
class Option:
    """A choice offered with a reply: `label` is shown, `value` is what choosing it sends."""

    label: str
    value: str


@dataclass(frozen=True, slots=True)
class Reply:
    """One message to send back.

    `text` uses light markup: `**bold**` and `_italic_` only; adapters render it natively and
    escape everything else. `options` are shown as buttons or a numbered list.
    """

    text: str
    kind: ReplyKind = ReplyKind.INFO
    options: tuple[Option, ...] = ()
    reply_to: str | None = None
    entry_id: str | None = None
    score: float | None = None
    suggestions: tuple[str, ...] = field(default=())
    data: dict[str, object] | None = field(default=None, compare=False)
