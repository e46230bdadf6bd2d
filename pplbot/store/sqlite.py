"""SqliteStore: stdlib sqlite3, WAL, versioned migrations, one transaction per turn."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from pplbot.core.sessions import Session, SessionKey
from pplbot.errors import StoreError
from pplbot.store.base import AuditRecord, StoredEvent

__all__ = ["SqliteStore"]

_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE sessions (
        key TEXT PRIMARY KEY,
        data TEXT NOT NULL,
        updated_at TEXT
    );
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        network TEXT NOT NULL,
        chat TEXT NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '',
        user_hash TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX events_kind_at ON events (kind, at);
    CREATE TABLE kv (name TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    """
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        who TEXT NOT NULL,
        network TEXT NOT NULL,
        action TEXT NOT NULL,
        entry TEXT NOT NULL,
        file TEXT NOT NULL,
        before TEXT NOT NULL,
        after TEXT NOT NULL
    );
    CREATE INDEX audit_entry ON audit (entry, id);
    """,
)


class SqliteStore:
    """Opens (and migrates) the database at `path`; raises StoreError if it cannot."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the state database {self.path}: {exc}") from exc

    def _migrate(self) -> None:
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if version > len(_MIGRATIONS):
            raise StoreError(
                f"the state database {self.path} has schema version {version}, newer than this pplbot knows ({len(_MIGRATIONS)})"
            )
        for number, script in enumerate(_MIGRATIONS[version:], start=version + 1):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for statement in filter(str.strip, script.split(";")):
                    self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {number}")
                self._db.execute("COMMIT")
            except sqlite3.Error:
                self._db.execute("ROLLBACK")
                raise

    def load_session(self, key: SessionKey) -> Session | None:
        row = self._query_one("SELECT data FROM sessions WHERE key = ?", (key.as_str(),))
        if row is None:
            return None
        try:
            return Session.from_json(key, str(row[0]))
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise StoreError(f"session {key.as_str()} in {self.path} is unreadable: {exc}") from exc

    def save_turn(self, session: Session, events: Sequence[StoredEvent]) -> None:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.execute(
                        "INSERT INTO sessions (key, data, updated_at) VALUES (?, ?, ?) "
                        "ON CONFLICT(key) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
                        (session.key.as_str(), session.to_json(), _iso(session.updated_at)),
                    )
                    self._db.executemany(
                        "INSERT INTO events (at, network, chat, kind, detail, user_hash) VALUES (?, ?, ?, ?, ?, ?)",
                        [(e.at.isoformat(), e.network, e.chat, e.kind, e.detail, e.user_hash) for e in events],
                    )
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise StoreError(f"cannot save to {self.path}: {exc}") from exc

    def events(self, kind: str | None = None, since: datetime | None = None) -> list[StoredEvent]:
        sql = "SELECT at, network, chat, kind, detail, user_hash FROM events WHERE 1=1"
        params: list[str] = []
        if kind is not None:
            sql += " AND kind = ?"
            params.append(kind)
        if since is not None:
            sql += " AND at >= ?"
            params.append(since.isoformat())
        rows = self._query(sql + " ORDER BY id", tuple(params))
        return [StoredEvent(datetime.fromisoformat(r[0]), r[1], r[2], r[3], r[4], r[5]) for r in rows]

    def delete_events(self, kind: str, before: datetime | None = None) -> int:
        sql, params = "DELETE FROM events WHERE kind = ?", [kind]
        if before is not None:
            sql += " AND at < ?"
            params.append(before.isoformat())
        with self._lock:
            try:
                return self._db.execute(sql, params).rowcount
            except sqlite3.Error as exc:
                raise StoreError(f"cannot delete from {self.path}: {exc}") from exc

    def add_audit(self, record: AuditRecord) -> int:
        with self._lock:
            try:
                cursor = self._db.execute(
                    "INSERT INTO audit (at, who, network, action, entry, file, before, after) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        record.at.isoformat(),
                        record.who,
                        record.network,
                        record.action,
                        record.entry,
                        record.file,
                        record.before,
                        record.after,
                    ),
                )
                return int(cursor.lastrowid or 0)
            except sqlite3.Error as exc:
                raise StoreError(f"cannot write the audit log in {self.path}: {exc}") from exc

    def audit(self, entry: str | None = None, limit: int = 10) -> list[AuditRecord]:
        sql = "SELECT at, who, network, action, entry, file, before, after, id FROM audit"
        params: tuple[object, ...] = ()
        if entry is not None:
            sql += " WHERE entry = ?"
            params = (entry,)
        rows = self._query(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))
        return [
            AuditRecord(datetime.fromisoformat(r[0]), r[1], r[2], r[3], r[4], r[5], r[6], r[7], int(r[8])) for r in rows
        ]

    def get_value(self, name: str) -> str | None:
        row = self._query_one("SELECT value FROM kv WHERE name = ?", (name,))
        return str(row[0]) if row is not None else None

    def set_value(self, name: str, value: str) -> None:
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO kv (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                    (name, value),
                )
            except sqlite3.Error as exc:
                raise StoreError(f"cannot save to {self.path}: {exc}") from exc

    def execute(self, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
        """Run one statement (used by later features' own tables)."""
        with self._lock:
            try:
                return list(self._db.execute(sql, tuple(params)).fetchall())
            except sqlite3.Error as exc:
                raise StoreError(f"database error in {self.path}: {exc}") from exc

    def _query(self, sql: str, params: tuple[object, ...]) -> list[tuple[str, ...]]:
        with self._lock:
            try:
                return list(self._db.execute(sql, params).fetchall())
            except sqlite3.Error as exc:
                raise StoreError(f"cannot read {self.path}: {exc}") from exc

    def _query_one(self, sql: str, params: tuple[object, ...]) -> tuple[str, ...] | None:
        rows = self._query(sql, params)
        return rows[0] if rows else None

    def close(self) -> None:
        with self._lock, contextlib.suppress(sqlite3.Error):
            self._db.close()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
