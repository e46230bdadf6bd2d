"""The first build's matcher (kept for `pplbot bench`): an inverted index over normalised phrases.

Candidates come from the phrases that share words with the query (an index, not a scan).
Each gets a score (0-100) that blends three views, weighted by `Tuning`:
- the IDF-weighted Dice overlap of the query and the phrase (both ways: nothing missing, little extra);
- the IDF-weighted share of the query's words found anywhere in the entry (its phrases, answer,
  detail and tags): long questions carry context words that the answer uses;
- rapidfuzz's token_sort_ratio of the normalised query and phrase (word order, near spellings).
Unknown query words are first corrected to the nearest indexed word (rapidfuzz, same length
band) when they are close enough; words still unknown weigh as much as the rarest word, so an
off-topic question full of unknown words scores low.

Two gates decide: an answer needs a cutoff *and* a margin over the best candidate on a different
topic (an entry that is neither related nor shares much of its answer's words). The cutoff is
lower when the question names the domain (PPL, copyfarleft, a section such as 4(c)) and higher
when it does not, because off-topic chat rarely names it. From the suggest cutoff up, the bot
offers "did you mean"; below, nothing. All thresholds were measured with `pplbot bench`.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from pplbot.core.gate import Candidate, Match, MatchKind
from pplbot.core.knowledge import Entry
from pplbot.legacy.normalizing import mentions_domain, normalize

__all__ = ["LegacyMatcher", "LegacyThresholds"]


@dataclass(frozen=True, slots=True)
class LegacyThresholds:
    answer_cutoff: float = 36.0  # when the question names the domain (PPL, copyfarleft, 4(c), ...)
    answer_cutoff_unanchored: float = 66.0  # when it does not: off-topic questions rarely do
    suggest_cutoff: float = 28.0
    suggest_cutoff_unanchored: float = 50.0
    margin: float = 2.0
    max_suggestions: int = 3


@dataclass(frozen=True, slots=True)
class Tuning:
    """Weights of the score; measured with `pplbot bench`, not guessed."""

    phrase_weight: float = 0.2  # IDF-weighted Dice of the query and the entry's best phrase
    entry_weight: float = 0.6  # share of the query's words found anywhere in the entry (phrases, answer, tags)
    fuzz_weight: float = 0.2  # rapidfuzz token_sort_ratio of the query and that phrase
    unknown_factor: float = 1.0  # weight of a word the index has never seen, relative to the rarest
    rescore: int = 100  # candidates that get the full (slower) score


_CORRECTIONS_MAX = 20000
_SAME_TOPIC = 0.2  # answers sharing this share of words are on one topic: no ambiguity between them


class LegacyMatcher:
    """An index built once from entries; `match()` is a pure function of the query."""

    def __init__(
        self, entries: Iterable[Entry], thresholds: LegacyThresholds | None = None, tuning: Tuning | None = None
    ) -> None:
        self.thresholds = thresholds or LegacyThresholds()
        self.tuning = tuning or Tuning()
        self.entries: list[Entry] = []
        self._phrase_entry: list[int] = []
        self._phrase_text: list[str] = []
        self._phrase_tokens: list[frozenset[str]] = []
        self._phrase_norm: list[str] = []
        self._entry_answer_tokens: list[frozenset[str]] = []
        self._entry_tokens: list[frozenset[str]] = []
        postings: dict[str, list[int]] = defaultdict(list)
        entry_df: dict[str, int] = defaultdict(int)
        for entry in entries:
            e_idx = len(self.entries)
            self.entries.append(entry)
            answer_tokens = frozenset(normalize(entry.answer))
            self._entry_answer_tokens.append(answer_tokens)
            doc = set(answer_tokens) | set(normalize(entry.more or ""))
            for tag in entry.tags:
                doc.update(normalize(tag))
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
                doc.update(tokens)
            self._entry_tokens.append(frozenset(doc))
            for t in doc:
                entry_df[t] += 1
        n = max(len(self._phrase_text), 1)
        n_entries = max(len(self.entries), 1)
        self._entry_idf = {t: math.log(1 + n_entries / df) for t, df in entry_df.items()}
        self._entry_unknown_idf = math.log(1 + n_entries) * self.tuning.unknown_factor
        self._postings = dict(postings)
        self._idf = {t: math.log(1 + n / len(p)) for t, p in postings.items()}
        self._unknown_idf = math.log(1 + n) * self.tuning.unknown_factor
        self._phrase_weight = [sum(self._idf[t] for t in toks) for toks in self._phrase_tokens]
        self._common = max(1000, n // 20)  # postings longer than this only rescore candidates
        by_length: dict[int, list[str]] = defaultdict(list)
        for token in self._idf:
            by_length[len(token)].append(token)
        self._pools = {
            n: by_length.get(n - 1, []) + by_length.get(n, []) + by_length.get(n + 1, []) for n in range(5, 40)
        }
        self._corrections: dict[str, str] = {}
        self._entry_index = {e.id: i for i, e in enumerate(self.entries)}

    @property
    def phrase_count(self) -> int:
        return len(self._phrase_text)

    def _correct(self, token: str) -> str:
        """The indexed word closest to an unknown word (a typo), or the word itself."""
        if token in self._idf or len(token) < 5 or token.isdigit():
            return token
        if token not in self._corrections:
            found = process.extractOne(token, self._pools.get(len(token), ()), scorer=fuzz.ratio, score_cutoff=80)
            if len(self._corrections) > _CORRECTIONS_MAX:
                self._corrections.clear()
            self._corrections[token] = str(found[0]) if found else token
        return self._corrections[token]

    def explain(self, text: str) -> list[Candidate]:
        """The best candidates with scores and matching phrases (for moderators)."""
        return self._rank(tuple(self._correct(t) for t in normalize(text)))

    def match(self, text: str) -> Match:
        tokens = tuple(self._correct(t) for t in normalize(text))
        ranked = self._rank(tokens)
        if not ranked:
            return Match(MatchKind.NONE, ())
        return self._decide(ranked, mentions_domain(tokens))

    def _rank(self, tokens: tuple[str, ...]) -> list[Candidate]:
        query = set(tokens)
        if not query:
            return []
        weight = {t: self._idf.get(t, self._unknown_idf) for t in query}
        q_total = sum(weight.values())
        overlap: dict[int, float] = defaultdict(float)
        for t in sorted(query, key=lambda t: len(self._postings.get(t, ()))):
            posting = self._postings.get(t)
            if not posting:
                continue
            w = weight[t]
            if len(posting) > self._common and overlap:
                for p in overlap:
                    if t in self._phrase_tokens[p]:
                        overlap[p] += w
            else:
                for p in posting:
                    overlap[p] += w
        if not overlap:
            return []
        pw = self._phrase_weight
        # Dice of the weighted token sets: the F-measure of coverage both ways, cheap to rank by.
        top = heapq.nlargest(self.tuning.rescore, overlap.items(), key=lambda kv: kv[1] / (q_total + pw[kv[0]]))
        q_norm = " ".join(tokens)
        tune = self.tuning
        entry_weight = {tok: self._entry_idf.get(tok, self._entry_unknown_idf) for tok in query}
        entry_total = sum(entry_weight.values())
        best_by_entry: dict[int, Candidate] = {}
        for p, inter in top:
            e_idx = self._phrase_entry[p]
            coverage = self._coverage(e_idx, entry_weight) / entry_total
            dice = 2 * inter / (q_total + pw[p])
            fuzzy = fuzz.token_sort_ratio(q_norm, self._phrase_norm[p]) / 100
            score = round(
                100 * (tune.phrase_weight * dice + tune.entry_weight * coverage + tune.fuzz_weight * fuzzy), 1
            )
            if e_idx not in best_by_entry or best_by_entry[e_idx].score < score:
                best_by_entry[e_idx] = Candidate(self.entries[e_idx], self._phrase_text[p], score)
        return sorted(best_by_entry.values(), key=lambda c: (-c.score, c.entry.id))

    def _coverage(self, e_idx: int, weights: dict[str, float]) -> float:
        """Weight of the query's words that occur anywhere in the entry."""
        doc = self._entry_tokens[e_idx]
        return sum(w for tok, w in weights.items() if tok in doc)

    def _rival(self, best: Candidate, ranked: list[Candidate]) -> Candidate | None:
        """The best candidate on a different topic: not related, and an answer that shares few words."""
        mine = self._answer_tokens_of(best.entry)
        for other in ranked[1:]:
            if other.entry.id in best.entry.related or best.entry.id in other.entry.related:
                continue
            theirs = self._answer_tokens_of(other.entry)
            if len(mine & theirs) / max(1, len(mine | theirs)) < _SAME_TOPIC:
                return other
        return None

    def _answer_tokens_of(self, entry: Entry) -> frozenset[str]:
        return self._entry_answer_tokens[self._entry_index[entry.id]]

    def _decide(self, ranked: list[Candidate], on_topic: bool) -> Match:
        th = self.thresholds
        answer_cutoff = th.answer_cutoff if on_topic else th.answer_cutoff_unanchored
        suggest_cutoff = th.suggest_cutoff if on_topic else th.suggest_cutoff_unanchored
        best = ranked[0]
        rival = self._rival(best, ranked)
        # the clearer the match, the smaller the lead it needs over a different topic
        margin = th.margin * (100 - best.score) / 50
        if best.score >= answer_cutoff and best.score - (rival.score if rival else 0.0) >= margin:
            return Match(MatchKind.ANSWER, tuple(ranked[: th.max_suggestions]))
        if best.score >= suggest_cutoff:
            floor = suggest_cutoff * 0.8
            picks = [c for c in ranked[: th.max_suggestions] if c.score >= floor]
            return Match(MatchKind.SUGGEST, tuple(picks))
        return Match(MatchKind.NONE, tuple(ranked[: th.max_suggestions]))
