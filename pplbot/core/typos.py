"""Typo correction: the known word closest to an unknown one (rapidfuzz's `ratio` of at least 80).

Known words are the words of the entries. A word they do not use is not a typo when it is a real
word: the caller passes those (the whole words of the static model's vocabulary), so "lunch" is
not read as "bunch".

A word is compared with the known words of its length, one shorter and one longer (in that order,
each length alphabetically; the first best wins). Before rapidfuzz compares, one NumPy pass drops
the words that cannot reach the cutoff: a ratio of at least 80 means an Indel distance of at most
a fifth of the two lengths together, and every letter that only one of the two words has costs at
least one insertion or deletion. The words left are compared exactly as before, in the same
order, so the chosen word is the same; the pass only spares rapidfuzz (and the memory reads of
every word of the pool) most of the work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz, process

__all__ = ["TypoCorrector"]

_CUTOFF = 80  # rapidfuzz ratio, 0-100: distance * 5 <= len(a) + len(b)
_MIN_LENGTH, _MAX_LENGTH = 5, 39  # words outside these lengths are never corrected
_BITS = {c: 1 << i for i, c in enumerate("abcdefghijklmnopqrstuvwxyz0123456789")}  # what `clean()` leaves
_OTHER = 1 << 63  # any other character
_CACHE_MAX = 20_000
Masks = npt.NDArray[np.uint64]


class TypoCorrector:
    def __init__(self, known: Iterable[str], is_real: Callable[[str], bool] | None = None) -> None:
        self._known = frozenset(known)
        self._is_real = is_real or _never  # correct spellings the pool does not hold
        # the words a pool can hold, by length then alphabetically: every pool is one slice
        self._words = sorted((w for w in self._known if _MIN_LENGTH - 1 <= len(w) <= _MAX_LENGTH + 1), key=_by_length)
        self._lengths = np.array([len(w) for w in self._words], dtype=np.int64)
        self._starts = np.searchsorted(self._lengths, np.arange(_MAX_LENGTH + 3)).tolist()
        self._masks: Masks = np.array([_mask(w) for w in self._words], dtype=np.uint64)
        self._cache: dict[str, str] = {}

    def correct(self, word: str) -> str:
        """The known word closest to an unknown one (a typo), or the word itself."""
        if word in self._known or len(word) < _MIN_LENGTH or not word.isalpha():
            return word
        found = self._cache.get(word)
        if found is None:
            found = word if self._is_real(word) else self._closest(word)
            if len(self._cache) > _CACHE_MAX:
                self._cache.clear()
            self._cache[word] = found
        return found

    def _closest(self, word: str) -> str:
        n = len(word)
        if n > _MAX_LENGTH:
            return word
        found = process.extractOne(word, self._candidates(word), scorer=fuzz.ratio, score_cutoff=_CUTOFF)
        return str(found[0]) if found else word

    def _candidates(self, word: str) -> list[str]:
        """The words of the pool, in pool order, that the letters alone do not rule out."""
        n = len(word)
        start, end = self._starts[n - 1], self._starts[n + 2]
        differing = _popcount(self._masks[start:end] ^ np.uint64(_mask(word)))
        keep = np.flatnonzero(5 * differing <= self._lengths[start:end] + n)
        words = self._words
        return [words[start + i] for i in keep.tolist()]


def _by_length(word: str) -> tuple[int, str]:
    return len(word), word


def _mask(word: str) -> int:
    """One bit for each letter or digit the word has (one more for anything else)."""
    bits = 0
    for c in set(word):
        bits |= _BITS.get(c, _OTHER)
    return bits


def _popcount(values: Masks) -> npt.NDArray[np.int64]:
    """The number of set bits of each value."""
    if hasattr(np, "bitwise_count"):  # NumPy 2
        counts: npt.NDArray[np.int64] = np.bitwise_count(values).astype(np.int64)
    else:
        counts = np.unpackbits(values.view(np.uint8)).reshape(len(values), 64).sum(axis=1, dtype=np.int64)
    return counts


def _never(word: str) -> bool:
    return False
