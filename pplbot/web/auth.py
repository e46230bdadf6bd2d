"""Login without passwords: one-time links issued by `kb web`, session cookies, CSRF tokens.

A moderator who is already trusted on a network (configured id, room power level, group admin)
asks the bot for a link in a direct message. The link carries a random token that is stored only
as its SHA-256 hash, works once and for 10 minutes. Using it starts a session: a random id in an
HttpOnly, SameSite=Strict cookie (only its hash is stored), with its own CSRF token that every
form sends back. Sessions expire, and can be listed and revoked.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["LINK_MINUTES", "Auth", "Moderator", "WebSession"]

LINK_MINUTES = 10

_TABLES = (
    """CREATE TABLE IF NOT EXISTS web_links (
        token_hash TEXT PRIMARY KEY, who TEXT NOT NULL, network TEXT NOT NULL,
        created_at TEXT NOT NULL, expires_at TEXT NOT NULL, used_at TEXT)""",
    """CREATE TABLE IF NOT EXISTS web_sessions (
        id_hash TEXT PRIMARY KEY, who TEXT NOT NULL, network TEXT NOT NULL, csrf TEXT NOT NULL,
        created_at TEXT NOT NULL, expires_at TEXT NOT NULL, last_seen TEXT NOT NULL,
        agent TEXT NOT NULL DEFAULT '', revoked_at TEXT)""",
)


class Executes(Protocol):
    def execute(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]: ...


@dataclass(frozen=True, slots=True)
class Moderator:
    who: str  # "Name [network id]", as the audit table records it
    network: str


@dataclass(frozen=True, slots=True)
class WebSession:
    key: str  # the hash of the cookie value: what the sessions page shows and revokes by
    moderator: Moderator
    csrf: str
    created_at: datetime
    expires_at: datetime
    last_seen: datetime
    agent: str
    revoked: bool


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Auth:
    def __init__(
        self,
        store: Executes,
        session_hours: float = 12.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.lifetime = timedelta(hours=session_hours)
        self.clock = clock
        for sql in _TABLES:
            store.execute(sql)

    # ------------------------------------------------------------ one-time links
    def issue_link(self, moderator: Moderator) -> str:
        """A new one-time token (shown once; only its hash is kept)."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        self.store.execute("DELETE FROM web_links WHERE expires_at < ?", ((now - timedelta(days=1)).isoformat(),))
        self.store.execute(
            "INSERT INTO web_links (token_hash, who, network, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
            (
                _hash(token),
                moderator.who,
                moderator.network,
                now.isoformat(),
                (now + timedelta(minutes=LINK_MINUTES)).isoformat(),
            ),
        )
        return token

    def link_state(self, token: str) -> str:
        """'ok', 'used', 'expired' or 'unknown' — without using the link (GET shows a button)."""
        rows = self.store.execute("SELECT expires_at, used_at FROM web_links WHERE token_hash = ?", (_hash(token),))
        if not rows:
            return "unknown"
        expires, used = rows[0]
        if used is not None:
            return "used"
        if datetime.fromisoformat(str(expires)) < self.clock():
            return "expired"
        return "ok"

    def use_link(self, token: str, agent: str = "") -> tuple[str, WebSession] | str:
        """Spend the token: (cookie value, session), or the reason it was refused."""
        state = self.link_state(token)
        if state != "ok":
            return state
        now = self.clock()
        spent = self.store.execute(
            "UPDATE web_links SET used_at = ? WHERE token_hash = ? AND used_at IS NULL RETURNING who, network",
            (now.isoformat(), _hash(token)),
        )
        if not spent:  # used by a concurrent request in between
            return "used"
        who, network = (str(v) for v in spent[0])
        cookie = secrets.token_urlsafe(32)
        session = WebSession(
            _hash(cookie),
            Moderator(who, network),
            secrets.token_urlsafe(24),
            now,
            now + self.lifetime,
            now,
            agent[:200],
            False,
        )
        self.store.execute(
            "INSERT INTO web_sessions (id_hash, who, network, csrf, created_at, expires_at, last_seen, agent)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                session.key,
                who,
                network,
                session.csrf,
                now.isoformat(),
                session.expires_at.isoformat(),
                now.isoformat(),
                session.agent,
            ),
        )
        return cookie, session

    # ------------------------------------------------------------ sessions
    def session(self, cookie: str | None) -> WebSession | None:
        """The live session for a cookie value, or None (unknown, expired or revoked)."""
        if not cookie:
            return None
        found = self._sessions("WHERE id_hash = ?", (_hash(cookie),))
        if not found:
            return None
        session = found[0]
        now = self.clock()
        if session.revoked or session.expires_at < now:
            return None
        if now - session.last_seen > timedelta(minutes=1):
            self.store.execute(
                "UPDATE web_sessions SET last_seen = ? WHERE id_hash = ?", (now.isoformat(), session.key)
            )
        return session

    def sessions(self) -> list[WebSession]:
        """Sessions that have not expired, newest first (revoked ones included, marked)."""
        return self._sessions("WHERE expires_at >= ? ORDER BY created_at DESC", (self.clock().isoformat(),))

    def revoke(self, key: str) -> bool:
        done = self.store.execute(
            "UPDATE web_sessions SET revoked_at = ? WHERE id_hash = ? AND revoked_at IS NULL RETURNING id_hash",
            (self.clock().isoformat(), key),
        )
        return bool(done)

    @staticmethod
    def csrf_ok(session: WebSession, sent: str | None) -> bool:
        return bool(sent) and hmac.compare_digest(session.csrf, str(sent))

    def _sessions(self, where: str, params: tuple[object, ...]) -> list[WebSession]:
        rows = self.store.execute(
            "SELECT id_hash, who, network, csrf, created_at, expires_at, last_seen, agent, revoked_at"
            f" FROM web_sessions {where}",
            params,
        )
        return [
            WebSession(
                str(r[0]),
                Moderator(str(r[1]), str(r[2])),
                str(r[3]),
                datetime.fromisoformat(str(r[4])),
                datetime.fromisoformat(str(r[5])),
                datetime.fromisoformat(str(r[6])),
                str(r[7]),
                r[8] is not None,
            )
            for r in rows
        ]
