"""Understanding a typed questionnaire answer: which option it names, if any.

An answer may be the option's number, its words, or a longer sentence that contains one of the
option's `aliases` or label words ("GmbH with 40 employees"), with typos. Each matched word
counts 1 divided by the number of options of the question that use it, so a word that only one
option has ("lend") outweighs one that several share ("copies"). Negation is explicit: an alias
matches only with the polarity it has, so "no DRM" never picks "With DRM" (it counts against
it) but does pick an option whose alias is "no drm". A negation reaches three words ahead
within its clause ("no, only members" is not a negated "only members"). An answer that is
exactly one option's alias picks it outright ("MIT" is the MIT licence, "mit Namensnennung" is
German "with credit").
"""

from __future__ import annotations

import re
from functools import lru_cache

from rapidfuzz import fuzz

from pplbot.core.knowledge import Question
from pplbot.core.normalizing import words

__all__ = ["NEGATIONS", "candidates", "choose"]

# Words that negate what follows, in English, Spanish, German, French and Portuguese (accents removed).
NEGATIONS = frozenset(
    """no not without none never nothing dont doesnt isnt arent wont nobody neither nor non
    sin ningun ninguna ninguno nada nunca ni
    ohne kein keine keinen keiner keinem nicht nie niemals
    sans pas aucun aucune jamais rien
    sem nenhum nenhuma nao""".split()
)
_YES = frozenset("yes yep yeah yup ya sure correct right si claro exacto ja jep genau jawohl oui ouais sim".split())
_NO = frozenset("no nope nah nein non nao".split())
_WINDOW = 3  # a negation this many words before an alias negates it
_CLAUSE = re.compile(r"[,.;:!?()\[\]]+|\s[-–—]\s|\bbut\b|\bpero\b|\baber\b|\bmais\b|\bmas\b")
_MIN_LABEL_WORD = 4  # label words shorter than this ("a", "it", "or") are not evidence


def _same(a: str, b: str) -> bool:
    return a == b or (len(a) >= 5 and len(b) >= 5 and fuzz.ratio(a, b) >= 85)


def _clauses(text: str) -> list[list[str]]:
    return [ws for part in _CLAUSE.split(text.casefold()) if (ws := words(part))]


_LABEL_WEIGHT = 0.5  # a word of the label is weaker evidence than a curated alias


@lru_cache(maxsize=512)
def _phrases(question: Question) -> tuple[tuple[tuple[tuple[str, ...], bool, float], ...], ...]:
    """Per option: its aliases and its longer label words, as (words, negated, weight) triples."""
    out = []
    for option in question.options:
        found: dict[tuple[str, ...], tuple[bool, float]] = {}
        for alias in option.aliases:
            ws = tuple(words(alias))
            if ws:
                found[ws] = (any(w in NEGATIONS for w in ws), 1.0)
        for w in words(option.label):
            if len(w) >= _MIN_LABEL_WORD and w not in NEGATIONS:
                found.setdefault((w,), (False, _LABEL_WEIGHT))
        out.append(tuple((ws, neg, weight) for ws, (neg, weight) in found.items()))
    return tuple(out)


@lru_cache(maxsize=512)
def _weights(question: Question) -> dict[str, float]:
    """1 / (number of options that use the word): shared words tell options apart less."""
    users: dict[str, set[int]] = {}
    for i, phrases in enumerate(_phrases(question)):
        for ws, _, _ in phrases:
            for w in ws:
                users.setdefault(w, set()).add(i)
    return {w: 1 / len(s) for w, s in users.items()}


def _score(question: Question, index: int, clauses: list[list[str]]) -> float:
    weights = _weights(question)
    total = 0.0
    for ws, alias_negated, strength in _phrases(question)[index]:
        n = len(ws)
        weight = strength * sum(weights.get(w, 1.0) for w in ws)
        for tokens in clauses:
            for at in range(len(tokens) - n + 1):
                if all(_same(tokens[at + k], ws[k]) for k in range(n)):
                    negated = any(t in NEGATIONS for t in tokens[max(0, at - _WINDOW) : at])
                    total += weight if alias_negated or not negated else -weight
                    break
    return total


def candidates(question: Question, text: str) -> tuple[int, ...]:
    """The options `text` names best: one index, several (a tie), or none."""
    clauses = _clauses(text)
    flat = [t for c in clauses for t in c]
    if not flat:
        return ()
    if len(flat) == 1 and flat[0].isdigit():
        n = int(flat[0])
        return (n - 1,) if 1 <= n <= len(question.options) else ()
    first = clauses[0]
    if first[0] in _YES:
        first[0] = "yes"
    elif first[0] in _NO and (len(first) == 1 or first[0] != "non"):  # "non-profit" is not "no"
        first[0] = "no"
    whole = tuple(flat)
    exact = [i for i, phrases in enumerate(_phrases(question)) if any(ws == whole for ws, _, w in phrases if w == 1.0)]
    if len(exact) == 1:  # the whole answer is one option's alias ("MIT"): no weighing needed
        return (exact[0],)
    scores = [_score(question, i, clauses) for i in range(len(question.options))]
    best = max(scores)
    if best <= 0:
        return ()
    return tuple(i for i, s in enumerate(scores) if best - s < 0.25)


def choose(question: Question, text: str) -> int | None:
    """The index of the option `text` names, or None when it names none or several equally."""
    found = candidates(question, text)
    return found[0] if len(found) == 1 else None
