"""Inverted indexes of the knowledge base in one language's tokens, as compact NumPy arrays.

Phrases and entries are stored once as surface-word ids (language-independent). An index for a
language maps every surface word to that language's token (its Snowball stem, or its synonym)
and inverts the pairs into postings: token -> phrases and token -> entries (compressed rows).
Building one is a few array sorts, so indexes for other languages can be built on first use.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from pplbot.core.normalizing import Normalizer

__all__ = ["LanguageIndex", "SurfaceCorpus", "sorted_unique"]

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


def _rows(groups: Sequence[Sequence[int]]) -> tuple[Ints, Ints]:
    """Compressed rows (indptr, values) of a list of int lists."""
    lengths = np.fromiter((len(g) for g in groups), dtype=np.int64, count=len(groups))
    indptr = np.zeros(len(groups) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    values = np.fromiter((v for g in groups for v in g), dtype=np.int64, count=int(indptr[-1]))
    return indptr, values


class SurfaceCorpus:
    """Every phrase and entry document of the knowledge base as ids of surface words."""

    def __init__(self, phrases: Sequence[Sequence[str]], docs: Sequence[set[str]], normalizer: Normalizer) -> None:
        self.words: list[str] = sorted({w for doc in docs for w in doc} | {w for p in phrases for w in p})
        self.stemmable = normalizer.stemmable(self.words)  # the same for every language's index
        # one string object for equal tokens and token texts of every language (a stem is often the
        # word itself, and languages often agree)
        self.strings: dict[str, str] = {w: w for w in self.words}
        self.ints = list(range(len(self.words) + 1))  # one int object per token id in every language
        self.word_id = {w: i for i, w in enumerate(self.words)}
        self.phrase_rows = _rows([sorted({self.word_id[w] for w in p}) for p in phrases])
        self.doc_rows = _rows([sorted(self.word_id[w] for w in doc) for doc in docs])
        self.phrases = len(phrases)
        self.docs = len(docs)

    def shared(self, text: str) -> str:
        return self.strings.setdefault(text, text)


def sorted_unique(values: Ints) -> Ints:
    """`np.unique(values)` (sorted, distinct), by one sort: faster on these nearly sorted keys."""
    ordered = np.sort(values)
    if len(ordered) < 2:
        return ordered
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def _invert(indptr: Ints, values: Ints, n_tokens: int) -> tuple[Ints, Ints, Ints]:
    """Unique (row, token) pairs, then postings token -> rows: (row_of_pair, post_indptr, post_rows)."""
    rows = np.repeat(np.arange(len(indptr) - 1, dtype=np.int64), np.diff(indptr))
    keys = sorted_unique(rows * n_tokens + values)
    pair_rows, pair_tokens = keys // n_tokens, keys % n_tokens
    order = np.argsort(pair_tokens, kind="stable")
    counts = np.bincount(pair_tokens, minlength=n_tokens)
    post_indptr = np.zeros(n_tokens + 1, dtype=np.int64)
    np.cumsum(counts, out=post_indptr[1:])
    return keys, post_indptr, pair_rows[order]


class LanguageIndex:
    """Postings and IDF weights of the corpus in one language's tokens."""

    def __init__(self, corpus: SurfaceCorpus, normalizer: Normalizer, lang: str) -> None:
        shared = corpus.shared
        token_of_word = [shared(t) for t in normalizer.token_list(lang, corpus.words, corpus.stemmable)]
        self.tokens: list[str] = sorted(set(token_of_word))
        ints = corpus.ints
        self.token_id = {t: ints[i] for i, t in enumerate(self.tokens)}
        n_tokens = max(len(self.tokens), 1)
        word_token = np.array([self.token_id[t] for t in token_of_word], dtype=np.int64)
        p_indptr, p_words = corpus.phrase_rows
        keys, phrase_post_ptr, phrase_post = _invert(p_indptr, word_token[p_words], n_tokens)
        # each phrase's unique tokens, in row order (for the fuzzy comparison of candidates)
        phrase_tok_ptr = np.searchsorted(keys // n_tokens, np.arange(corpus.phrases + 1))
        phrase_tok = keys % n_tokens
        d_indptr, d_words = corpus.doc_rows
        _, doc_post_ptr, doc_post = _invert(d_indptr, word_token[d_words], n_tokens)
        self.phrase_post_ptr, self.phrase_post = phrase_post_ptr, phrase_post  # int64: NumPy indexes with it as is
        self.doc_post_ptr, self.doc_post = doc_post_ptr, doc_post
        n, n_docs = max(corpus.phrases, 1), max(corpus.docs, 1)
        self.idf: Floats = np.log1p(n / np.maximum(np.diff(self.phrase_post_ptr), 1))
        self.unknown_idf = float(np.log1p(n))
        self.doc_idf: Floats = np.log1p(n_docs / np.maximum(np.diff(self.doc_post_ptr), 1))
        self.unknown_doc_idf = float(np.log1p(n_docs))
        token_weight = self.idf[phrase_tok]
        self.phrase_weight: Floats = (
            np.add.reduceat(token_weight, phrase_tok_ptr[:-1]) if len(token_weight) else np.zeros(corpus.phrases)
        )
        self.phrases = corpus.phrases
        self.docs = corpus.docs
        tokens = self.tokens
        # each phrase's tokens, sorted, as one string (token_sort_ratio sorts anyway): token ids
        # follow the sorted token list and ascend within a row, so the rows are already in order
        texts = [tokens[i] for i in phrase_tok.tolist()]
        bounds = phrase_tok_ptr.tolist()
        self._texts: list[str] = [shared(" ".join(texts[a:b])) for a, b in itertools.pairwise(bounds)]

    def phrases_of(self, token: int) -> Ints:
        return self.phrase_post[self.phrase_post_ptr[token] : self.phrase_post_ptr[token + 1]]

    def docs_of(self, token: int) -> Ints:
        return self.doc_post[self.doc_post_ptr[token] : self.doc_post_ptr[token + 1]]

    def phrase_text(self, phrase: int) -> str:
        """The phrase's tokens, sorted, as one string."""
        return self._texts[phrase]

    def phrase_texts(self, phrases: Sequence[int]) -> list[str]:
        texts = self._texts
        return [texts[p] for p in phrases]
