"""What the bot could not answer: recent questions grouped by similarity, most frequent first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from pplbot.core.normalizing import words
from pplbot.store.base import StoredEvent

__all__ = ["Group", "group_questions"]

SIMILAR = 75.0


@dataclass(slots=True)
class Group:
    text: str  # the most recent wording, shown and taught
    count: int = 0
    chats: set[str] = field(default_factory=set)
    key: str = ""


def group_questions(events: Sequence[StoredEvent], limit: int = 10) -> list[Group]:
    """Cluster questions whose normalised words are close (rapidfuzz token_set_ratio)."""
    groups: list[Group] = []
    for event in sorted(events, key=lambda e: e.at, reverse=True):
        key = " ".join(words(event.detail)) or event.detail.strip().lower()
        if not key:
            continue
        for group in groups:
            if fuzz.token_set_ratio(key, group.key) >= SIMILAR:
                break
        else:
            group = Group(event.detail.strip(), key=key)
            groups.append(group)
        group.count += 1
        group.chats.add(f"{event.network}:{event.chat}")
    groups.sort(key=lambda g: -g.count)  # stable: recent first among equals
    return groups[:limit]
