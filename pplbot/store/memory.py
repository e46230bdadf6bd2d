"""An in-memory Store: the fake used by tests and by `pplbot ask`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pplbot.core.sessions import Session, SessionKey
from pplbot.store.base import AuditRecord, StoredEvent

__all__ = ["MemoryStore"]


class MemoryStore:
    def __init__(self) -> None:
        self.sessions: dict[SessionKey, str] = {}
        self._events: list[StoredEvent] = []
        self._values: dict[str, str] = {}
        self._audit: list[AuditRecord] = []

    def load_session(self, key: SessionKey) -> Session | None:
        text = self.sessions.get(key)
        return Session.from_json(key, text) if text is not None else None

    def save_turn(self, session: Session, events: Sequence[StoredEvent]) -> None:
        self.sessions[session.key] = session.to_json()
        self._events.extend(events)

    def events(self, kind: str | None = None, since: datetime | None = None) -> list[StoredEvent]:
        return [e for e in self._events if (kind is None or e.kind == kind) and (since is None or e.at >= since)]

    def delete_events(self, kind: str, before: datetime | None = None) -> int:
        keep = [e for e in self._events if e.kind != kind or (before is not None and e.at >= before)]
        removed = len(self._events) - len(keep)
        self._events = keep
        return removed

    def add_audit(self, record: AuditRecord) -> int:
        from dataclasses import replace

        self._audit.append(replace(record, id=len(self._audit) + 1))
        return len(self._audit)

    def audit(self, entry: str | None = None, limit: int = 10) -> list[AuditRecord]:
        records = [r for r in reversed(self._audit) if entry is None or r.entry == entry]
        return records[:limit]

    def get_value(self, name: str) -> str | None:
        return self._values.get(name)

    def set_value(self, name: str, value: str) -> None:
        self._values[name] = value

    def close(self) -> None:
        return None
