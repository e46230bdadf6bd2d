"""Find the entry that answers a question, or say honestly that none does.

Candidates come from two places: an inverted index over the paraphrases' tokens (words the
question shares with a phrase) and, when an embedder is given, the phrases whose sentence
vectors lie closest to the question's. Each candidate phrase gets a score (0-100) that blends:
- lexical: the IDF-weighted Dice overlap of question and phrase, the IDF-weighted share of the
  question's words found anywhere in the entry (phrases, answer, detail, tags), and rapidfuzz's
  token_sort_ratio (word order, near spellings);
- semantic: the cosine of the two sentence vectors.
Tokens depend on the question's language (its Snowball stemmer and synonyms), so the index is
kept per language, all five built with the matcher.

`gate.decide` then chooses answer / "did you mean" / "I don't know" from those scores, the
margin to the best entry on another topic, and whether the question names the subject.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process

from pplbot.core.gate import Candidate, Match, MatchKind, Thresholds, decide
from pplbot.core.knowledge import Entry
from pplbot.core.memory import release_freed_memory
from pplbot.core.normalizing import Normalizer, clean
from pplbot.core.semantic import Embedder, unit_rows
from pplbot.core.token_index import LanguageIndex, SurfaceCorpus, sorted_unique
from pplbot.core.typos import TypoCorrector
from pplbot.core.vocabulary import LANGUAGES

__all__ = ["Candidate", "Match", "MatchKind", "Matcher", "Thresholds", "Tuning"]


@dataclass(frozen=True, slots=True)
class Tuning:
    """Weights of the score; fitted with `scripts/fit_gate.py` on the dev set only."""

    phrase_weight: float = 0.1  # IDF-weighted Dice of the question and the phrase
    entry_weight: float = 0.8  # share of the question's words found anywhere in the entry
    fuzz_weight: float = 0.1  # token_sort_ratio of the question and the phrase
    semantic_weight: float = 0.5  # share of the final score that comes from the cosine
    rescore: int = 60  # lexical candidates that get the full score
    semantic_candidates: int = 8  # entries nearest by mean phrase vector: their phrases become candidates


# a ranked candidate before it becomes a `Candidate`: score, entry id, entry, phrase, coverage, cosine
_Row = tuple[float, str, int, int, float, float | None]
_WORD = re.compile(r"[^\W\d_]+")  # a run of letters: a word whose spelling may be corrected
_RANKED = 20  # entries kept in a ranking: enough for the gate's rival and the suggestions


class Matcher:
    """Indexes built once from entries; `match()` is a pure function of the question."""

    def __init__(
        self,
        entries: Iterable[Entry],
        normalizer: Normalizer | None = None,
        embedder: Embedder | None = None,
        thresholds: Thresholds | None = None,
        tuning: Tuning | None = None,
    ) -> None:
        self.normalizer = normalizer or Normalizer()
        self.embedder = embedder
        self.thresholds = thresholds or Thresholds()
        self.tuning = tuning or Tuning()
        self.entries: list[Entry] = []
        self._phrase_entry: list[int] = []
        self._phrase_text: list[str] = []
        self._phrases: list[list[str]] = []
        self._docs: list[set[str]] = []
        shared: dict[str, str] = {}  # one string object per word, in every structure below

        def surface(text: str) -> list[str]:
            return [shared.setdefault(w, w) for w in self.normalizer.surface(text)]

        self._answer_words: list[frozenset[str]] = []  # for telling topics apart (`_same_topic`)
        for entry in entries:
            answer_words = surface(entry.answer)
            self._answer_words.append(frozenset(answer_words))
            doc = set(answer_words) | set(surface(entry.more or ""))
            for tag in entry.tags:
                doc.update(surface(tag))
            for phrase in entry.questions:
                ws = surface(phrase)
                if not ws:
                    continue
                self._phrase_entry.append(len(self.entries))
                self._phrase_text.append(phrase)
                self._phrases.append(ws)
                doc.update(ws)
            self.entries.append(entry)
            self._docs.append(doc)
        self._entry_index = {e.id: i for i, e in enumerate(self.entries)}
        self._entry_ids = [e.id for e in self.entries]
        # pools sorted: ties in typo correction resolve the same way every run
        # a real word that the entries do not use ("lunch", "movie") is not a typo of one they use,
        # nor is chat filler ("bitte")
        spelled, knows = self.normalizer.not_typos, embedder.knows if embedder else None
        self._typos = TypoCorrector(
            {w for doc in self._docs for w in doc},
            lambda w: w in spelled or (knows is not None and knows(w)),
        )
        corpus = SurfaceCorpus(self._phrases, self._docs, self.normalizer)
        self._phrase_entry_array = np.array(self._phrase_entry, dtype=np.int64)
        self._vectors = embedder.encode(self._phrase_text) if embedder is not None and self._phrase_text else None
        self._centroids = _centroids(self._vectors, self._phrase_entry_array, len(self.entries))
        self._entry_phrases = np.argsort(self._phrase_entry_array, kind="stable")
        self._entry_phrase_ptr = np.searchsorted(
            self._phrase_entry_array[self._entry_phrases], np.arange(len(self.entries) + 1)
        )
        del self._phrases, self._docs, self._phrase_entry  # the corpus and the array hold them now
        # every language's index built now, so no question waits for one; the corpus is not kept
        self._indexes = {lang: LanguageIndex(corpus, self.normalizer, lang) for lang in LANGUAGES}
        del corpus
        release_freed_memory()

    @property
    def phrase_count(self) -> int:
        return len(self._phrase_text)

    def index(self, lang: str) -> LanguageIndex:
        """The index in a language's tokens (one of `LANGUAGES`)."""
        return self._indexes[lang]

    def _correct(self, word: str) -> str:
        """The known word closest to an unknown one (a typo), or the word itself."""
        return self._typos.correct(word)

    def explain(self, text: str) -> list[Candidate]:
        """The best candidates with scores and matching phrases (for moderators)."""
        return self._rank(text)[0]

    def match(self, text: str) -> Match:
        ranked, on_topic, lang = self._rank(text)
        return decide(ranked, on_topic, lang, self.thresholds, self._same_topic)

    def _rank(self, text: str) -> tuple[list[Candidate], int, str]:
        """Candidates in the question's language (one reading: a second, English reading of the
        non-English questions changed the best entry of 8 questions in 1,100, and mostly for the
        worse, at the cost of a second ranking)."""
        lang = self.normalizer.language(text)
        cosines = self._cosines(self._spelled(text))
        surface = self.normalizer.surface(text, self._typos.correct)
        near = None  # the phrases of the semantically nearest entries join the lexical candidates
        if cosines is not None:
            near = self._phrases_of(_top(self._centroids @ cosines, self.tuning.semantic_candidates))
        ranked, tokens = self._rank_in(surface, lang, cosines, near)
        entries, texts = self.entries, self._phrase_text
        candidates = [Candidate(entries[e], texts[p], score, c, sem) for score, _, e, p, c, sem in ranked]
        return candidates, self.normalizer.anchor(tokens), lang

    def _rank_in(
        self, surface: list[str], lang: str, cosines: np.ndarray | None, near: np.ndarray | None
    ) -> tuple[list[_Row], tuple[str, ...]]:
        """The ranking in one language's reading, and the question's tokens in it."""
        index = self.index(lang)
        tokens = self.normalizer.tokens_of(lang, surface)
        query = list(dict.fromkeys(tokens))
        if not query:
            return [], tokens
        dice, coverage, top = self._lexical(index, query)
        if near is not None:
            top = sorted_unique(np.concatenate((top, near)))  # np.union1d, by one sort
        if not len(top):
            return [], tokens
        return self._candidates(index, query, top, dice, coverage, cosines), tokens

    def _lexical(self, index: LanguageIndex, query: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Dice of the question with every phrase, coverage of every entry, and the phrases with the
        best Dice (only the phrases sharing a token are computed: the others are 0)."""
        ids = [index.token_id.get(t, -1) for t in query]
        weights = [float(index.idf[i]) if i >= 0 else index.unknown_idf for i in ids]
        doc_weights = [float(index.doc_idf[i]) if i >= 0 else index.unknown_doc_idf for i in ids]
        q_total, doc_total = sum(weights), sum(doc_weights)
        overlap = np.zeros(index.phrases)
        coverage = np.zeros(index.docs)
        for token, weight, doc_weight in zip(ids, weights, doc_weights, strict=True):
            if token >= 0:
                overlap[index.phrases_of(token)] += weight
                coverage[index.docs_of(token)] += doc_weight
        coverage /= doc_total
        shared = np.flatnonzero(overlap)  # the phrases whose Dice is positive
        dice = np.zeros(index.phrases)
        dice[shared] = 2 * overlap[shared] / (q_total + index.phrase_weight[shared])
        k = self.tuning.rescore
        top = shared if len(shared) <= k else shared[np.argpartition(-dice[shared], k - 1)[:k]]
        return dice, coverage, top

    def _candidates(
        self,
        index: LanguageIndex,
        query: list[str],
        top: np.ndarray,
        dice: np.ndarray,
        coverage: np.ndarray,
        cosines: np.ndarray | None,
    ) -> list[_Row]:
        """The full score of the `top` phrases; each entry's best phrase, the best entries first."""
        tune = self.tuning
        # token_sort_ratio of the question and each phrase: both are sorted tokens already, so it is `ratio`
        q_text = " ".join(sorted(query))
        fuzzy = process.cdist([q_text], index.phrase_texts(top.tolist()), scorer=fuzz.ratio)[0] / 100
        entry_of = self._phrase_entry_array[top]
        cov = coverage[entry_of]
        lexical = tune.phrase_weight * dice[top] + tune.entry_weight * cov + tune.fuzz_weight * fuzzy
        semantic = (
            np.maximum(self._vectors[top] @ cosines, 0.0) if cosines is not None and self._vectors is not None else None
        )
        blended = (
            lexical if semantic is None else (1 - tune.semantic_weight) * lexical + tune.semantic_weight * semantic
        )
        scores = np.round(100 * blended, 1)
        order = np.lexsort((entry_of, -scores))  # best first; ties in a fixed order
        _, first = np.unique(entry_of[order], return_index=True)  # each entry's first (best) phrase
        picks = order[np.sort(first)[:_RANKED]]
        sems: list[float | None] = semantic[picks].tolist() if semantic is not None else [None] * len(picks)
        ids = self._entry_ids
        best: list[_Row] = [
            (score, ids[e], e, p, c, sem)
            for e, p, score, c, sem in zip(
                entry_of[picks].tolist(),
                top[picks].tolist(),
                scores[picks].tolist(),
                cov[picks].tolist(),
                sems,
                strict=True,
            )
        ]
        return sorted(best, key=lambda row: (-row[0], row[1]))

    def _spelled(self, text: str) -> str:
        """The text for the sentence vector: as typed, or with its typos corrected when it has some
        (the static model's word pieces of a misspelt word say little)."""
        correct = self._typos.correct

        def fix(found: re.Match[str]) -> str:
            word = found.group(0)
            plain = clean(word)
            fixed = correct(plain) if plain.isalpha() else plain
            return word if fixed == plain else fixed

        return _WORD.sub(fix, text)

    def _cosines(self, text: str) -> np.ndarray | None:
        """The question's sentence vector (compared with phrases' vectors), if there is an embedder."""
        if self.embedder is None or self._vectors is None:
            return None
        return np.asarray(self.embedder.encode([text])[0])

    def _phrases_of(self, entries: np.ndarray) -> np.ndarray:
        """Every phrase of the given entries."""
        parts = [
            self._entry_phrases[self._entry_phrase_ptr[e] : self._entry_phrase_ptr[e + 1]] for e in entries.tolist()
        ]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def _same_topic(self, a: Entry, b: Entry) -> bool:
        """Related entries, or answers that share a fifth of their words, are one topic."""
        if a.id in b.related or b.id in a.related:
            return True
        mine = self._answer_words[self._entry_index[a.id]]
        theirs = self._answer_words[self._entry_index[b.id]]
        return len(mine & theirs) / max(1, len(mine | theirs)) >= 0.2


def _top(values: np.ndarray, k: int) -> np.ndarray:
    """Indexes of the k largest positive values."""
    positive = np.flatnonzero(values > 0)
    if len(positive) <= k:
        return positive
    return positive[np.argpartition(-values[positive], k - 1)[:k]]


def _centroids(vectors: np.ndarray | None, entry_of: np.ndarray, n_entries: int) -> np.ndarray:
    """Each entry's mean phrase vector, unit length (zero rows when there are no vectors)."""
    if vectors is None:
        return np.zeros((n_entries, 1), dtype=np.float32)
    sums = np.zeros((n_entries, vectors.shape[1]), dtype=np.float32)
    np.add.at(sums, entry_of, vectors)
    return unit_rows(sums)
