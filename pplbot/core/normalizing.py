"""Text to matching tokens, the same way for the knowledge base and for questions.

`clean()` lower-cases, removes accents and punctuation and joins section references
("4(c)(ii)" -> "4c 4cii"). A `Normalizer` built from the curated `Vocabulary` then joins
multi-word terms ("worker owned" -> "workerowned"), drops chat stop words, stems each word with
the Snowball stemmer of the question's language (PyStemmer) and maps domain synonyms of that
language onto one token. The language of a question comes from lingua, restricted to the five
languages pplbot answers in; short or mixed questions default to English.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Callable, Iterable
from functools import lru_cache

import Stemmer
from lingua import Language, LanguageDetector, LanguageDetectorBuilder
from stopwords import get_stopwords

from pplbot.core.memory import release_freed_memory
from pplbot.core.vocabulary import LANGUAGES, STEMMER_NAMES, Vocabulary

__all__ = ["Normalizer", "clean", "is_section", "words"]

_SECTION = re.compile(r"(?<![a-z0-9])([1-8])\s?\(?([a-i])\)?(?:\s?\((i{1,3}|iv)\))?(?![a-z0-9])")
_NON_WORD = re.compile(r"[^a-z0-9]+")
_SECTION_TOKEN = re.compile(r"^[1-8][a-i](?:i{1,3}|iv)?$")
_SECTION_WORDS = frozenset({"section", "clause", "article", "paragraph", "sec", "art", "artikel", "articulo"})
_LINGUA = {
    Language.ENGLISH: "en",
    Language.SPANISH: "es",
    Language.GERMAN: "de",
    Language.FRENCH: "fr",
    Language.PORTUGUESE: "pt",
}
_MIN_CONFIDENCE = 0.5  # below this, a question is read as English (most mixed chat is)
_CACHE_MAX = 50_000
_FOLD_MAX = 20_000  # characters
_CLEAN_CACHED_LENGTH = 1000  # longer texts (rare) are cleaned every time


class _FoldTable(dict[int, str]):
    """Each character's folded form (NFKD, combining marks dropped, casefolded), computed on first
    use: the steps work character by character, so `str.translate` with it folds a whole text
    exactly as folding the text at once would, several times faster."""

    def __missing__(self, code: int) -> str:
        decomposed = unicodedata.normalize("NFKD", chr(code).replace("ß", "ss"))
        folded = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
        if len(self) >= _FOLD_MAX:
            self.clear()
        self[code] = folded
        return folded


_FOLD_TABLE = _FoldTable()


def _fold(text: str) -> str:
    return text.casefold() if text.isascii() else text.translate(_FOLD_TABLE)


def _section(match: re.Match[str]) -> str:
    number, letter, roman = match.group(1), match.group(2), match.group(3)
    return f" {number}{letter} {number}{letter}{roman} " if roman else f" {number}{letter} "


def clean(text: str) -> str:
    """Lower case, no accents or punctuation, section references as tokens ("4c")."""
    return _clean_cached(text) if len(text) <= _CLEAN_CACHED_LENGTH else _clean(text)


@lru_cache(maxsize=16_384)  # every text of the bundled knowledge base, so loading cleans each once
def _clean_cached(text: str) -> str:
    return _clean(text)


def _clean(text: str) -> str:
    folded = _fold(text).replace("'", "").replace("\u2019", "")
    folded = _SECTION.sub(_section, folded.replace("§", " section "))
    return " ".join(_NON_WORD.split(folded)).strip()


def words(text: str) -> list[str]:
    """The cleaned words of `text`, nothing removed (for commands, small talk and answers)."""
    return clean(text).split()


def is_section(token: str) -> bool:
    return bool(_SECTION_TOKEN.match(token))


@lru_cache(maxsize=1)
def _language_stop_words() -> frozenset[str]:
    """The function words of the five languages ("the", "que", "der", "est", "uma"), from the
    `stopwords` package: they say nothing about which entry answers."""
    return frozenset(w for lang in LANGUAGES for word in get_stopwords(lang) for w in words(word))


@lru_cache(maxsize=1)
def _detector() -> LanguageDetector:
    """Built on the first question that needs it; the first detection loads its models (about 10 MB)
    and leaves several MB of freed buffers, given back to the OS at once."""
    detector = LanguageDetectorBuilder.from_languages(*_LINGUA).with_low_accuracy_mode().build()
    detector.compute_language_confidence_values("the first detection loads the models")
    release_freed_memory()
    return detector


class Normalizer:
    """Tokens for matching, built once from a vocabulary; `tokens()` is pure and cached."""

    def __init__(self, vocabulary: Vocabulary | None = None) -> None:
        self.vocabulary = vocabulary = vocabulary or Vocabulary()
        # PyStemmer's own cache is off (maxCacheSize 0): `token()` caches what questions need, and
        # the stemmer's cache kept every word of the knowledge base alive (about 8 MB).
        self._stemmers = {lang: Stemmer.Stemmer(STEMMER_NAMES[lang], 0) for lang in LANGUAGES}
        self._terms: dict[tuple[str, ...], str] = {}
        for token, phrases in vocabulary.terms.items():
            for phrase in (token, *phrases):
                self._terms[tuple(words(phrase))] = "".join(words(token))
        stops = [tuple(words(w)) for w in vocabulary.stop_words]
        keep = {w for k in vocabulary.keep_words for w in words(k)}
        self._stop = frozenset(s[0] for s in stops if len(s) == 1) | (_language_stop_words() - keep)
        self._terms.update({s: "" for s in stops if len(s) > 1})
        self._term_tokens = frozenset(self._terms.values())
        # multi-word terms by first word: the lengths (in words) to try there, longest first
        lengths: dict[str, set[int]] = {}
        for key in self._terms:
            if len(key) > 1:
                lengths.setdefault(key[0], set()).add(len(key))
        self._term_lengths = {first: sorted(ns, reverse=True) for first, ns in lengths.items()}
        # stop words and the first words of terms are spelled as meant: never corrected as typos
        self.not_typos: frozenset[str] = self._stop | frozenset(self._term_lengths)
        self._token_cache: dict[str, dict[str, str]] = {lang: {} for lang in LANGUAGES}  # lang -> word -> token
        self._synonyms: dict[str, dict[str, str]] = {}
        for lang in LANGUAGES:
            table: dict[str, str] = {}
            # the language's own groups first, then English ones (loanwords in any language)
            for group_lang in dict.fromkeys((lang, "en")):
                for canonical, variants in vocabulary.synonyms.get(group_lang, {}).items():
                    target = "".join(words(canonical))
                    for variant in (canonical, *variants):
                        word = "".join(words(variant))
                        table.setdefault(self._stem(lang, word), target)
            self._synonyms[lang] = table
        self._domain = self._token_set(vocabulary.domain_terms)
        self._ambiguous = self._token_set(vocabulary.ambiguous_terms) - self._domain
        self._clash = self._token_set(vocabulary.clash_terms)

    def _token_set(self, terms: Iterable[str]) -> frozenset[str]:
        out: set[str] = set()
        for term in terms:
            joined = "".join(words(term))
            out.add(self._terms.get(tuple(words(term)), joined))
            out.update(self.token(lang, joined) for lang in LANGUAGES)
        return frozenset(out)

    def _stem(self, lang: str, word: str) -> str:
        if len(word) <= 2 or word in self._term_tokens or word.isdigit() or is_section(word):
            return word
        return str(self._stemmers[lang].stemWord(word))

    # ------------------------------------------------------------------ public
    def language(self, text: str) -> str:
        """'en', 'es', 'de', 'fr' or 'pt': lingua's choice when it is confident, else 'en'."""
        if sum(len(w) > 2 and w.isalpha() for w in words(text)) < 3:  # too short to tell
            return "en"
        values = _detector().compute_language_confidence_values(text[:500])
        if not values or values[0].value < _MIN_CONFIDENCE:
            return "en"
        return _LINGUA.get(values[0].language, "en")

    def surface(self, text: str, correct: Callable[[str], str] | None = None) -> list[str]:
        """Cleaned words with multi-word terms joined and chat stop words dropped."""
        found = clean(text[:2000]).split()
        if correct is not None:
            found = [correct(w) for w in found]
        terms, lengths, stop = self._terms, self._term_lengths, self._stop
        out = []
        i, n = 0, len(found)
        while i < n:
            w = found[i]
            i += 1
            # the longest multi-word term that starts here, read as its token ("" for a stop phrase)
            for length in lengths.get(w, ()):
                key = tuple(found[i - 1 : i - 1 + length])
                if len(key) == length and key in terms:
                    w = terms[key]
                    i += length - 1
                    break
            if not w or w in stop:
                continue
            joined = terms.get((w,))
            if joined is None:
                out.append(w)
            elif joined:
                out.append(joined)
        return out

    def token(self, lang: str, word: str) -> str:
        """The matching token of one surface word in a language: its stem, or its synonym's."""
        cache = self._token_cache[lang]
        cached = cache.get(word)
        if cached is None:
            stem = self._stem(lang, word)
            cached = self._synonyms[lang].get(stem, stem)
            if len(cache) >= _CACHE_MAX // len(LANGUAGES):
                cache.clear()
            cache[word] = cached
        return cached

    def tokens_of(self, lang: str, words_: Iterable[str]) -> tuple[str, ...]:
        """`token()` of each word."""
        cache = self._token_cache[lang]
        return tuple(cache.get(w) or self.token(lang, w) for w in words_)

    def stemmable(self, words_: list[str]) -> list[str]:
        """The words a stemmer changes at all (the same in every language): for `token_list`."""
        terms = self._term_tokens
        return [w for w in words_ if not (len(w) <= 2 or w in terms or w.isdigit() or is_section(w))]

    def token_list(self, lang: str, words_: list[str], stemmable: list[str] | None = None) -> list[str]:
        """`token()` of many words at once (one call of the C stemmer): for building indexes.
        `stemmable` is `self.stemmable(words_)`, if the caller has it already."""
        plain = self.stemmable(words_) if stemmable is None else stemmable
        stems = dict(zip(plain, self._stemmers[lang].stemWords(plain), strict=True))
        synonym = self._synonyms[lang].get
        return [synonym(stem, stem) for stem in map(stems.get, words_, words_)]

    def tokens(self, text: str, lang: str | None = None) -> tuple[str, ...]:
        lang = lang or self.language(text)
        return self.tokens_of(lang, self.surface(text))

    def anchor(self, tokens: Iterable[str]) -> int:
        """How clearly the tokens name the subject: 2 (a term such as copyfarleft, or a section such
        as "4c"), 1 (only an ambiguous one such as "ppl", which is also "people"), 0 (none, or "PPL"
        next to a word that means another PPL, such as "pilot")."""
        seq = tuple(tokens)
        if any(t in self._domain or is_section(t) for t in seq):
            return 2
        if any(a in _SECTION_WORDS and b.isdigit() and len(b) == 1 for a, b in itertools.pairwise(seq)):
            return 2
        if any(t in self._ambiguous for t in seq):
            return 0 if any(t in self._clash for t in seq) else 1
        return 0

    def names_domain(self, tokens: Iterable[str]) -> bool:
        """True when the tokens name the subject at all (see `anchor`)."""
        return self.anchor(tokens) > 0
