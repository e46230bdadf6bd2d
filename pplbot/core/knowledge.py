"""The validated, immutable knowledge base: FAQ entries and the questionnaire."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from pplbot.core.vocabulary import Vocabulary

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
    """An option of a questionnaire question; leads to a question or a verdict (by id).

    `aliases` are words people type for it; `short` is how the verdict echoes it ("because you
    said: ..."); `conditions` are condition texts that choosing it adds to the verdict.
    """

    label: str
    next: str
    aliases: tuple[str, ...] = ()
    short: str = ""
    conditions: tuple[str, ...] = ()

    @property
    def echo(self) -> str:
        return self.short or self.label


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    text: str
    why: str
    options: tuple[Answer, ...]


@dataclass(frozen=True, slots=True)
class Verdict:
    """The end of a path: `why` is the one-sentence reason shown with it, `detail` the full one."""

    id: str
    kind: VerdictKind
    why: str
    detail: str
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
    vocabulary: Vocabulary = field(default_factory=Vocabulary)

    @staticmethod
    def of(
        entries: tuple[Entry, ...],
        questionnaire: Questionnaire | None = None,
        version: str = "",
        vocabulary: Vocabulary | None = None,
    ) -> KnowledgeBase:
        by_id = MappingProxyType({e.id: e for e in entries})
        return KnowledgeBase(entries, questionnaire, version, by_id, vocabulary or Vocabulary())

    @property
    def phrase_count(self) -> int:
        return sum(len(e.questions) for e in self.entries)
