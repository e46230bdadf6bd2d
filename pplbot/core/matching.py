"""Find the entry that answers a question: an inverted index over normalised phrases.

Scoring (0-100) blends two views of a phrase against the query:
- IDF-weighted overlap of tokens, as an F-measure of query coverage and phrase coverage, where
  the query coverage also credits words found in the entry's answer (long questions carry
  context words that the answer uses);
- rapidfuzz's token_sort_ratio on the normalised strings (word order, near spellings).
Unknown query words are first corrected to the nearest indexed word (rapidfuzz, same length
band) when they are close enough; words still unknown weigh as much as the rarest word, so an
off-topic question full of unknown words scores low.

Two gates decide: an answer needs `answer_cutoff` *and* a `margin` over the best phrase of a
different entry; from `suggest_cutoff` up, "did you mean" suggestions; below, nothing.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from rapidfuzz import fuzz, process

from pplbot.core.knowledge import Entry
from pplbot.core.normalizing import normalize

__all__ = ["Candidate", "Match", "MatchKind", "Matcher", "Thresholds", "normalize"]


class MatchKind(StrEnum):
    ANSWER = "answer"
    SUGGEST = "suggest"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Thresholds:
    answer_cutoff: float = 60.0
    suggest_cutoff: float = 42.0
    margin: float = 4.0
    max_suggestions: int = 3


@dataclass(frozen=True, slots=True)
class Candidate:
    """An entry that could answer, with its best phrase and score: the 'why' of a match."""

    entry: Entry
    phrase: str
    score: float


@dataclass(frozen=True, slots=True)
class Match:
    kind: MatchKind
    candidates: tuple[Candidate, ...]

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


_FUZZ_WEIGHT = 0.2
_ANSWER_WEIGHT = 0.35  # how much answer words count toward query coverage
_COMMON_POSTINGS = 4000  # tokens in more phrases than this only rescore existing candidates
_RESCORE = 40


class Matcher:
    """An index built once from entries; `match()` is a pure function of the query."""

    def __init__(self, entries: Iterable[Entry], thresholds: Thresholds | None = None) -> None:
        self.thresholds = thresholds or Thresholds()
        self.entries: list[Entry] = []
        self._phrase_entry: list[int] = []
        self._phrase_text: list[str] = []
        self._phrase_tokens: list[frozenset[str]] = []
        self._phrase_norm: list[str] = []
        self._entry_answer_tokens: list[frozenset[str]] = []
        postings: dict[str, list[int]] = defaultdict(list)
        for entry in entries:
            e_idx = len(self.entries)
            self.entries.append(entry)
            answer_tokens = set(normalize(entry.answer))
            for phrase in entry.questions:
                tokens = normalize(phrase)
                if not tokens:
                    continue
                p_idx = len(self._phrase_text)
                self._phrase_entry.append(e_idx)
                self._phrase_text.append(phrase)
                self._phrase_tokens.append(frozenset(tokens))
                self._phrase_norm.append(" ".join(tokens))
                for t in set(tokens):
                    postings[t].append(p_idx)
            self._entry_answer_tokens.append(frozenset(answer_tokens))
        n = max(len(self._phrase_text), 1)
        self._postings = dict(postings)
        self._idf = {t: math.log(1 + n / len(p)) for t, p in postings.items()}
        self._unknown_idf = math.log(1 + n)
        self._phrase_weight = [sum(self._idf[t] for t in toks) for toks in self._phrase_tokens]
        self._by_length: dict[int, list[str]] = defaultdict(list)
        for token in self._idf:
            self._by_length[len(token)].append(token)

    @property
    def phrase_count(self) -> int:
        return len(self._phrase_text)

    def _correct(self, token: str) -> str:
        if token in self._idf or len(token) < 5 or token.isdigit():
            return token
        pool = [t for n in (len(token) - 1, len(token), len(token) + 1) for t in self._by_length.get(n, ())]
        found = process.extractOne(token, pool, scorer=fuzz.ratio, score_cutoff=80)
        return str(found[0]) if found else token

    def match(self, text: str) -> Match:
        tokens = tuple(self._correct(t) for t in normalize(text))
        query = set(tokens)
        if not query:
            return Match(MatchKind.NONE, ())
        weight = {t: self._idf.get(t, self._unknown_idf) for t in query}
        q_total = sum(weight.values())
        overlap: dict[int, float] = defaultdict(float)
        for t in sorted(query, key=lambda t: len(self._postings.get(t, ()))):
            posting = self._postings.get(t)
            if not posting:
                continue
            if len(posting) > _COMMON_POSTINGS and overlap:
                for p in overlap:
                    if t in self._phrase_tokens[p]:
                        overlap[p] += weight[t]
                continue
            for p in posting:
                overlap[p] += weight[t]
        if not overlap:
            return Match(MatchKind.NONE, ())
        scored: list[tuple[float, int]] = []
        for p, inter in overlap.items():
            answer_bonus = sum(
                weight[t]
                for t in query - self._phrase_tokens[p]
                if t in self._entry_answer_tokens[self._phrase_entry[p]]
            )
            recall = (inter + _ANSWER_WEIGHT * answer_bonus) / q_total
            precision = inter / self._phrase_weight[p]
            f = 2 * recall * precision / (recall + precision) if recall + precision else 0.0
            scored.append((f, p))
        scored.sort(reverse=True)
        q_norm = " ".join(tokens)
        best_by_entry: dict[int, Candidate] = {}
        for f, p in scored[:_RESCORE]:
            fuzzy = fuzz.token_sort_ratio(q_norm, self._phrase_norm[p]) / 100
            score = round(100 * ((1 - _FUZZ_WEIGHT) * f + _FUZZ_WEIGHT * fuzzy), 1)
            e_idx = self._phrase_entry[p]
            if e_idx not in best_by_entry or best_by_entry[e_idx].score < score:
                best_by_entry[e_idx] = Candidate(self.entries[e_idx], self._phrase_text[p], score)
        ranked = sorted(best_by_entry.values(), key=lambda c: (-c.score, c.entry.id))
        return self._decide(ranked)

    def _decide(self, ranked: list[Candidate]) -> Match:
        th = self.thresholds
        best = ranked[0]
        runner_up = ranked[1].score if len(ranked) > 1 else 0.0
        if best.score >= th.answer_cutoff and best.score - runner_up >= th.margin:
            return Match(MatchKind.ANSWER, tuple(ranked[: th.max_suggestions]))
        if best.score >= th.suggest_cutoff:
            floor = th.suggest_cutoff * 0.8
            picks = [c for c in ranked[: th.max_suggestions] if c.score >= floor]
            return Match(MatchKind.SUGGEST, tuple(picks))
        return Match(MatchKind.NONE, tuple(ranked[: th.max_suggestions]))
