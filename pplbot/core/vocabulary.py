"""The curated vocabulary of the matcher (knowledge/vocabulary.yaml), as validated data.

Libraries do the language work (Snowball stemming, language identification); this holds only
what no library knows about the subject: multi-word terms, per-language domain synonyms, chat
stop words, words that name the subject, and words that mean another "PPL".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = ["LANGUAGES", "STEMMER_NAMES", "Vocabulary"]

LANGUAGES = ("en", "es", "de", "fr", "pt")
STEMMER_NAMES = {"en": "english", "es": "spanish", "de": "german", "fr": "french", "pt": "portuguese"}


def _empty() -> Mapping[str, tuple[str, ...]]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """`terms`: token -> phrases read as that token; `synonyms`: language -> canonical -> words."""

    terms: Mapping[str, tuple[str, ...]] = field(default_factory=_empty)
    synonyms: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=lambda: MappingProxyType({}))
    stop_words: tuple[str, ...] = ()
    keep_words: tuple[str, ...] = ()  # never dropped as a language's stop word ("mit", "sa", "solo")
    domain_terms: tuple[str, ...] = ()
    ambiguous_terms: tuple[str, ...] = ()  # name the subject only weakly ("ppl" is also "people")
    clash_terms: tuple[str, ...] = ()
