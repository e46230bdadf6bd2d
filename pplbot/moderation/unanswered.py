"""What the bot could not answer: recent questions grouped by similarity, most frequent first.

`Grouper` is incremental, so the web page can keep one and add only the questions logged since
its last visit: an exact normalised wording joins its group at once, anything else joins the most
similar group (rapidfuzz token_set_ratio ≥ 75) or starts a new one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from rapidfuzz import fuzz, process

from pplbot.core.normalizing import words
from pplbot.store.base import StoredEvent

__all__ = ["Group", "Grouper", "group_questions"]

SIMILAR = 75.0


@dataclass(slots=True)
class Group:
    text: str  # the most recent wording, shown and taught
    count: int = 0
    chats: set[str] = field(default_factory=set)
    key: str = ""
    first_at: datetime | None = None
    last_at: datetime | None = None
    wordings: list[str] = field(default_factory=list)  # up to 5 distinct wordings, newest last


class Grouper:
    def __init__(self) -> None:
        self.groups: list[Group] = []
        self._keys: list[str] = []
        self._by_key: dict[str, Group] = {}

    def add(self, event: StoredEvent) -> None:
        text = event.detail.strip()
        key = " ".join(words(text)) or text.lower()
        if not key:
            return
        group = self._by_key.get(key)
        if group is None:
            best = process.extractOne(key, self._keys, scorer=fuzz.token_set_ratio, score_cutoff=SIMILAR)
            if best is not None:
                group = self.groups[best[2]]
            else:
                group = Group(text, key=key)
                self.groups.append(group)
                self._keys.append(key)
            self._by_key[key] = group
        group.count += 1
        group.chats.add(f"{event.network}:{event.chat}")
        if group.last_at is None or event.at >= group.last_at:
            group.text, group.last_at = text, event.at
        if group.first_at is None or event.at < group.first_at:
            group.first_at = event.at
        if text not in group.wordings:
            group.wordings = [*group.wordings[-4:], text]

    def extend(self, events: Iterable[StoredEvent]) -> None:
        for event in events:
            self.add(event)

    def top(self, limit: int) -> list[Group]:
        """Most frequent first; among equals, the most recently asked first."""
        ordered = sorted(self.groups, key=lambda g: (-g.count, -(g.last_at.timestamp() if g.last_at else 0.0)))
        return ordered[:limit]


def group_questions(events: Sequence[StoredEvent], limit: int = 10) -> list[Group]:
    """Cluster questions whose normalised words are close (rapidfuzz token_set_ratio)."""
    grouper = Grouper()
    grouper.extend(sorted(events, key=lambda e: e.at, reverse=True))
    return grouper.top(limit)
