"""The validated, immutable knowledge base: FAQ entries and the questionnaire."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

__all__ = [
    "Answer",
    "Entry",
    "KnowledgeBase",
    "Question",
    "Questionnaire",
    "Verdict",
    "VerdictKind",
]


@dataclass(frozen=True, slots=True)
class Entry:
    """One FAQ entry: paraphrases of a question and its sourced answer."""

    id: str
    questions: tuple[str, ...]
    answer: str
    sources: tuple[str, ...]
    more: str | None = None
    tags: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    file: str = ""
    line: int = 0


class VerdictKind(StrEnum):
    PERMITTED = "permitted"
    PERMITTED_WITH_CONDITIONS = "permitted_with_conditions"
    NOT_PERMITTED = "not_permitted"
    NEEDS_SEPARATE_PERMISSION = "needs_separate_permission"
    UNCLEAR = "unclear"


@dataclass(frozen=True, slots=True)
class Answer:
    """An option of a questionnaire question; leads to a question or a verdict (by id)."""

    label: str
    next: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    text: str
    why: str
    options: tuple[Answer, ...]


@dataclass(frozen=True, slots=True)
class Verdict:
    id: str
    kind: VerdictKind
    summary: str
    why: str
    sections: tuple[str, ...]
    conditions: tuple[str, ...]
    next_steps: str


@dataclass(frozen=True, slots=True)
class Questionnaire:
    """A directed acyclic graph of questions ending in verdicts."""

    start: str
    title: str
    questions: Mapping[str, Question]
    verdicts: Mapping[str, Verdict]
    disclaimer: str
    depths: Mapping[str, int] = field(default_factory=dict)  # longest path from each question
    triggers: tuple[str, ...] = ()  # phrases that mean "is my use permitted?"

    @property
    def depth(self) -> int:
        return self.depths.get(self.start, 0)

    def node(self, node_id: str) -> Question | Verdict | None:
        return self.questions.get(node_id) or self.verdicts.get(node_id)


@dataclass(frozen=True, slots=True)
class KnowledgeBase:
    entries: tuple[Entry, ...]
    questionnaire: Questionnaire | None = None
    version: str = ""
    by_id: Mapping[str, Entry] = field(default_factory=lambda: MappingProxyType({}))

    @staticmethod
    def of(entries: tuple[Entry, ...], questionnaire: Questionnaire | None = None, version: str = "") -> KnowledgeBase:
        return KnowledgeBase(entries, questionnaire, version, MappingProxyType({e.id: e for e in entries}))

    @property
    def phrase_count(self) -> int:
        return sum(len(e.questions) for e in self.entries)
