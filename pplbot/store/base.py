"""The Store protocol: what the service needs to keep between messages and restarts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pplbot.core.sessions import Session, SessionKey

__all__ = ["Store", "StoredEvent"]


@dataclass(frozen=True, slots=True)
class StoredEvent:
    at: datetime
    network: str
    chat: str
    kind: str
    detail: str
    user_hash: str = ""


class Store(Protocol):
    def load_session(self, key: SessionKey) -> Session | None: ...

    def save_turn(self, session: Session, events: Sequence[StoredEvent]) -> None:
        """Save the session and its events in one transaction."""
        ...

    def events(self, kind: str | None = None, since: datetime | None = None) -> list[StoredEvent]: ...

    def get_value(self, name: str) -> str | None: ...

    def set_value(self, name: str, value: str) -> None: ...

    def close(self) -> None: ...
