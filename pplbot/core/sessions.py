"""Per-person conversation state: one session per user per chat per thread.

Sessions are values; the store saves them as JSON (`to_json`/`from_json`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from pplbot.core.messages import Incoming

__all__ = ["QuizState", "Session", "SessionKey"]


@dataclass(frozen=True, slots=True)
class SessionKey:
    network: str
    chat: str
    user: str
    thread: str | None = None

    @staticmethod
    def of(incoming: Incoming) -> SessionKey:
        return SessionKey(incoming.network, incoming.chat, incoming.user, incoming.thread)

    def as_str(self) -> str:
        return json.dumps([self.network, self.chat, self.user, self.thread], ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class QuizState:
    """The answers given so far, as (question id, option index) in order asked."""

    answers: tuple[tuple[str, int], ...] = ()
    started_at: datetime | None = None
    message_id: str | None = None  # the network message that shows the current question


@dataclass(frozen=True, slots=True)
class Session:
    key: SessionKey
    updated_at: datetime | None = None
    quiz: QuizState | None = None
    offered: tuple[str, ...] = ()  # values of the options in the bot's last reply
    last_entry: str | None = None  # for "more"
    notices: frozenset[str] = field(default_factory=frozenset)  # one-time notices already sent
    finished: tuple[tuple[str, int], ...] = ()  # answers of the last completed questionnaire ("back" reopens it)

    def expired(self, now: datetime, idle: timedelta) -> bool:
        return self.quiz is not None and self.updated_at is not None and now - self.updated_at > idle

    def touch(self, now: datetime) -> Session:
        return replace(self, updated_at=now)

    def to_json(self) -> str:
        quiz = None
        if self.quiz is not None:
            quiz = {
                "answers": [list(a) for a in self.quiz.answers],
                "started_at": _iso(self.quiz.started_at),
                "message_id": self.quiz.message_id,
            }
        return json.dumps(
            {
                "updated_at": _iso(self.updated_at),
                "quiz": quiz,
                "offered": list(self.offered),
                "last_entry": self.last_entry,
                "notices": sorted(self.notices),
                "finished": [list(a) for a in self.finished],
            },
            ensure_ascii=False,
        )

    @staticmethod
    def from_json(key: SessionKey, text: str) -> Session:
        data = json.loads(text)
        quiz = None
        if data.get("quiz") is not None:
            q = data["quiz"]
            quiz = QuizState(
                tuple((str(a[0]), int(a[1])) for a in q.get("answers", [])),
                _parse(q.get("started_at")),
                q.get("message_id"),
            )
        return Session(
            key,
            _parse(data.get("updated_at")),
            quiz,
            tuple(str(v) for v in data.get("offered", [])),
            data.get("last_entry"),
            frozenset(str(n) for n in data.get("notices", [])),
            tuple((str(a[0]), int(a[1])) for a in data.get("finished", [])),
        )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None
