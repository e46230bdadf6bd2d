"""What one call of the bot produces: the new session, the replies and the events to record."""

from __future__ import annotations

from dataclasses import dataclass

from pplbot.core.messages import Reply
from pplbot.core.sessions import Session

__all__ = ["Event", "Turn"]


@dataclass(frozen=True, slots=True)
class Event:
    """Something worth recording: an outcome for statistics or an unanswered question."""

    kind: str  # answered | suggested | fallback | smalltalk | quiz_started | verdict | unanswered | command
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Turn:
    session: Session
    replies: tuple[Reply, ...]
    events: tuple[Event, ...] = ()
