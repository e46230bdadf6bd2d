"""What the moderators' pages show, computed from the store and the running bot (no HTML here)."""

from __future__ import annotations

import difflib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from pplbot.core.bot import Bot
from pplbot.core.knowledge import Entry, KnowledgeBase
from pplbot.moderation.unanswered import Group, Grouper
from pplbot.store.base import AuditRecord, StoredEvent
from pplbot.web.auth import Executes

__all__ = ["KeepsValues", "Near", "Probe", "UnansweredLog", "Week", "diff_lines", "probe", "search_entries", "weekly"]

_HANDLED = "web:handled:"


@dataclass(frozen=True, slots=True)
class Near:
    entry_id: str
    score: float
    phrase: str


@dataclass(frozen=True, slots=True)
class Probe:
    kind: str  # answer | suggest | none
    candidates: tuple[Near, ...]


def probe(bot: Bot, text: str, limit: int = 5) -> Probe:
    """What the bot would do with `text`, with the same scores as `kb search`."""
    kind = bot.matcher.match(text).kind.value
    return Probe(kind, tuple(Near(c.entry.id, c.score, c.phrase) for c in bot.matcher.explain(text)[:limit]))


class KeepsValues(Executes, Protocol):
    def get_value(self, name: str) -> str | None: ...

    def set_value(self, name: str, value: str) -> None: ...


class UnansweredLog:
    """The unanswered questions of the last `days`, grouped incrementally between page views,
    with the entries that nearly matched each group (cached per knowledge-base version).
    A group a moderator has taught stays off the list until someone asks it again."""

    def __init__(self, store: KeepsValues, days: int) -> None:
        self.store = store
        self.days = days
        self._grouper = Grouper()
        self._seen = (0, 0)  # min and max id of the rows grouped so far
        self._near: OrderedDict[tuple[str, str], Probe] = OrderedDict()
        self._lock = threading.Lock()  # the warm-up at start runs in a worker thread

    def groups(self, now: datetime) -> list[Group]:
        """Every group, most frequent first."""
        with self._lock:
            return self._groups(now)

    def open_groups(self, now: datetime) -> list[Group]:
        """The groups not handled since they were last asked."""
        out = []
        for group in self.groups(now):
            handled = self.store.get_value(_HANDLED + group.key)
            if handled is None or group.last_at is None or group.last_at.isoformat() > handled:
                out.append(group)
        return out

    def mark_handled(self, key: str, now: datetime) -> None:
        self.store.set_value(_HANDLED + key, now.isoformat())

    def _groups(self, now: datetime) -> list[Group]:
        self.store.execute(
            "DELETE FROM events WHERE kind = 'unanswered' AND at < ?", ((now - timedelta(days=self.days)).isoformat(),)
        )
        low, high = (
            int(str(v or 0))
            for v in self.store.execute("SELECT min(id), max(id) FROM events WHERE kind = 'unanswered'")[0]
        )
        seen_low, seen_high = self._seen
        if low != seen_low or high < seen_high:  # expired, purged or reset: group again
            self._grouper, seen_high = Grouper(), 0
        if high > seen_high:
            rows = self.store.execute(
                "SELECT at, network, chat, detail FROM events WHERE kind = 'unanswered' AND id > ? ORDER BY id",
                (seen_high,),
            )
            self._grouper.extend(
                StoredEvent(datetime.fromisoformat(str(r[0])), str(r[1]), str(r[2]), "unanswered", str(r[3]))
                for r in rows
            )
        self._seen = (low, high)
        return self._grouper.top(len(self._grouper.groups))

    def near(self, bot: Bot, kb: KnowledgeBase, text: str) -> Probe:
        key = (kb.version, text)
        found = self._near.get(key)
        if found is None:
            found = probe(bot, text, limit=3)
            self._near[key] = found
            if len(self._near) > 5000:
                self._near.popitem(last=False)
        return found


def search_entries(kb: KnowledgeBase, query: str) -> list[Entry]:
    """Entries whose id, paraphrases, answer or `more` contain every word of `query` (any case)."""
    terms = query.casefold().split()
    if not terms:
        return list(kb.entries)
    out = []
    for entry in kb.entries:
        hay = " ".join((entry.id, *entry.questions, entry.answer, entry.more or "")).casefold()
        if all(t in hay for t in terms):
            out.append(entry)
    return out


@dataclass(frozen=True, slots=True)
class Week:
    label: str  # "2026-W49"
    answered: int
    suggested: int
    fallback: int

    @property
    def asked(self) -> int:
        return self.answered + self.suggested + self.fallback


def weekly(store: Executes, weeks: int = 12) -> list[Week]:
    """Questions per ISO-like week (Monday first) by outcome, the last `weeks` weeks that had any."""
    rows = store.execute(
        "SELECT strftime('%Y-W%W', at) AS week, kind, count(*) FROM events"
        " WHERE kind IN ('answered', 'suggested', 'fallback') GROUP BY week, kind ORDER BY week"
    )
    table: dict[str, dict[str, int]] = {}
    for week, kind, n in rows:
        table.setdefault(str(week), {})[str(kind)] = int(str(n))
    return [
        Week(label, c.get("answered", 0), c.get("suggested", 0), c.get("fallback", 0))
        for label, c in list(table.items())[-weeks:]
    ]


def diff_lines(record: AuditRecord, context: int = 2) -> list[tuple[str, str]]:
    """The edit as (kind, line) pairs: kind is 'add', 'del', 'hunk' or 'same'."""
    out: list[tuple[str, str]] = []
    for line in difflib.unified_diff(
        record.before.splitlines(), record.after.splitlines(), record.file, record.file, n=context, lineterm=""
    ):
        if line.startswith(("---", "+++")):
            continue
        kind = "hunk" if line.startswith("@@") else "add" if line[:1] == "+" else "del" if line[:1] == "-" else "same"
        out.append((kind, line))
    return out
