"""The gate: answer, offer "did you mean", or say "I don't know".

A wrong answer is worse than no answer, so the gate answers only when the best entry's score
clears a cutoff *and* leads the best entry on a different topic by a margin. The cutoffs are
lowest when the question names the subject clearly (copyfarleft, a section such as 4(c)),
higher when it names it only as "ppl" (also "people", a pilot licence ...), and highest when it
does not name it, because off-topic chat rarely does. Thresholds were fitted with
`scripts/fit_gate.py` on the development sets (the dev set, the tuning set and 180 hard off-topic
questions) and checked on sets that were not used to fit them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from pplbot.core.knowledge import Entry

__all__ = ["Candidate", "Match", "MatchKind", "Thresholds", "decide"]


class MatchKind(StrEnum):
    ANSWER = "answer"
    SUGGEST = "suggest"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Candidate:
    """An entry that could answer, with its best phrase and scores: the 'why' of a match."""

    entry: Entry
    phrase: str
    score: float  # 0-100, the blend the gate ranks by
    coverage: float = 0.0  # IDF share of the question's words found in the entry (0-1)
    semantic: float | None = None  # cosine of the question and the phrase, if an embedder is used


@dataclass(frozen=True, slots=True)
class Match:
    kind: MatchKind
    candidates: tuple[Candidate, ...]
    language: str = "en"
    anchor: int = 0  # 2: names the subject clearly, 1: only as "ppl", 0: not at all

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


@dataclass(frozen=True, slots=True)
class Thresholds:
    answer_cutoff: float = 30.0  # when the question names the subject (copyfarleft, 4(c), ...)
    answer_cutoff_weak: float = 44.0  # when it names it only as "ppl" (the refit wants 36: more wrong answers)
    answer_cutoff_unanchored: float = 77.5  # when it does not
    suggest_cutoff: float = 22.5
    suggest_cutoff_weak: float = 33.4
    suggest_cutoff_unanchored: float = 60.45
    margin: float = 0.0  # lead over the best entry on another topic, at a score of 50
    min_coverage: float = 0.0  # share of the question's words the answering entry must know
    min_semantic: float = 0.0  # cosine of question and phrase the answering candidate must reach
    max_suggestions: int = 3


def decide(
    ranked: list[Candidate],
    anchor: int,
    language: str,
    th: Thresholds,
    same_topic: Callable[[Entry, Entry], bool],
) -> Match:
    if not ranked:
        return Match(MatchKind.NONE, (), language, anchor)
    answer_cutoff = (th.answer_cutoff_unanchored, th.answer_cutoff_weak, th.answer_cutoff)[anchor]
    suggest_cutoff = (th.suggest_cutoff_unanchored, th.suggest_cutoff_weak, th.suggest_cutoff)[anchor]
    best = ranked[0]
    rival = next((c for c in ranked[1:] if not same_topic(best.entry, c.entry)), None)
    margin = th.margin * (100 - best.score) / 50  # the clearer the match, the smaller the lead it needs
    lead = best.score - (rival.score if rival else 0.0)
    top = tuple(ranked[: th.max_suggestions])
    semantic_ok = best.semantic is None or best.semantic >= th.min_semantic
    if best.score >= answer_cutoff and lead >= margin and best.coverage >= th.min_coverage and semantic_ok:
        return Match(MatchKind.ANSWER, top, language, anchor)
    if best.score >= suggest_cutoff:
        floor = suggest_cutoff * 0.8
        return Match(MatchKind.SUGGEST, tuple(c for c in top if c.score >= floor), language, anchor)
    return Match(MatchKind.NONE, top, language, anchor)
