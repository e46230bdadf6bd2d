"""The Store protocol: what the service needs to keep between messages and restarts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pplbot.core.sessions import Session, SessionKey

__all__ = ["AuditRecord", "Store", "StoredEvent"]


@dataclass(frozen=True, slots=True)
class StoredEvent:
    at: datetime
    network: str
    chat: str
    kind: str
    detail: str
    user_hash: str = ""


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One knowledge-base edit: who, when, where from, which entry, the file before and after."""

    at: datetime
    who: str
    network: str
    action: str  # teach | answer | add | remove | undo
    entry: str
    file: str
    before: str  # the file's text before the edit
    after: str  # the file's text after the edit
    id: int = 0


class Store(Protocol):
    def load_session(self, key: SessionKey) -> Session | None: ...

    def save_turn(self, session: Session, events: Sequence[StoredEvent]) -> None:
        """Save the session and its events in one transaction."""
        ...

    def events(self, kind: str | None = None, since: datetime | None = None) -> list[StoredEvent]: ...

    def delete_events(self, kind: str, before: datetime | None = None) -> int:
        """Delete events of `kind` (older than `before`, if given); returns how many."""
        ...

    def add_audit(self, record: AuditRecord) -> int: ...

    def audit(self, entry: str | None = None, limit: int = 10) -> list[AuditRecord]:
        """The latest edits first."""
        ...

    def get_value(self, name: str) -> str | None: ...

    def set_value(self, name: str, value: str) -> None: ...

    def close(self) -> None: ...
