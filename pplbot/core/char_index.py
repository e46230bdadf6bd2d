"""Character n-grams of each entry's paraphrases, compared with a question by TF-IDF cosine.

Word stems need the right language and miss typos and cognates ("cooperativa", "coopérative",
"cooperative" share most of their 3- to 5-letter pieces). This index treats all paraphrases of an
entry as one document of n-grams (2 to 5 characters inside word boundaries, like scikit-learn's
`char_wb`), weights them by sublinear TF and by IDF across entries, and scores a question
against every entry through an inverted index. n-grams that occur in most entries are dropped:
they cost time and tell entries apart little.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from pplbot.core.normalizing import clean

__all__ = ["CharIndex", "ngrams"]

_SIZES = (2, 3, 4, 5)
_COMMON = 0.25  # n-grams in more than this share of the entries are not indexed


def ngrams(text: str) -> Counter[str]:
    """Counts of the character n-grams of the cleaned words of `text`, each word padded by spaces."""
    out: Counter[str] = Counter()
    for word in clean(text).split():
        padded = f" {word} "
        for n in _SIZES:
            for i in range(len(padded) - n + 1):
                out[padded[i : i + n]] += 1
    return out


class CharIndex:
    """Entry documents as unit TF-IDF vectors of n-grams, inverted for fast scoring."""

    def __init__(self, documents: Sequence[Iterable[str]]) -> None:
        counts: list[Counter[str]] = []
        for doc in documents:
            total: Counter[str] = Counter()
            for text in doc:
                total.update(ngrams(text))
            counts.append(total)
        df: Counter[str] = Counter()
        for c in counts:
            df.update(c.keys())
        n = max(len(counts), 1)
        limit = max(2, int(_COMMON * n))
        self.idf = {g: math.log((1 + n) / (1 + d)) + 1 for g, d in df.items() if d <= limit}
        self.ids = {g: i for i, g in enumerate(self.idf)}
        rows: list[list[tuple[int, float]]] = [[] for _ in self.ids]
        for e, c in enumerate(counts):
            weights = {g: (1 + math.log(t)) * self.idf[g] for g, t in c.items() if g in self.idf}
            norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
            for g, w in weights.items():
                rows[self.ids[g]].append((e, w / norm))
        lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
        self._ptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=self._ptr[1:])
        self._entries = np.fromiter((e for r in rows for e, _ in r), dtype=np.int64, count=int(self._ptr[-1]))
        self._weights = np.fromiter((w for r in rows for _, w in r), dtype=np.float32, count=int(self._ptr[-1]))
        self.size = len(counts)

    def scores(self, text: str) -> npt.NDArray[np.float32]:
        """Cosine of the question with every entry's document (0 where nothing is shared)."""
        out = np.zeros(self.size, dtype=np.float32)
        query = {g: (1 + math.log(t)) * self.idf[g] for g, t in ngrams(text).items() if g in self.idf}
        norm = math.sqrt(sum(w * w for w in query.values())) or 1.0
        for g, w in query.items():
            i = self.ids[g]
            lo, hi = self._ptr[i], self._ptr[i + 1]
            out[self._entries[lo:hi]] += self._weights[lo:hi] * (w / norm)
        return out
