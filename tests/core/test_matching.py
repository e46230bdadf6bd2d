"""Normalisation in each language, the matcher, and the gate's three outcomes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pplbot.core.gate import Candidate, Thresholds, decide
from pplbot.core.knowledge import Entry, KnowledgeBase
from pplbot.core.matching import Matcher, MatchKind
from pplbot.core.normalizing import Normalizer, clean, words
from pplbot.embedding import load_embedder


@pytest.fixture(scope="module")
def norm(kb: KnowledgeBase) -> Normalizer:
    """The normaliser built from the bundled vocabulary."""
    return Normalizer(kb.vocabulary)


@pytest.mark.parametrize(
    ("text", "cleaned"),
    [
        ("What's §4(c)(ii) about?", "whats section 4c 4cii about"),
        ("Genossenschaft, coopérative, cooperação", "genossenschaft cooperative cooperacao"),
        ("Section 4 (d)", "section 4d"),
        ("straße", "strasse"),
    ],
)
def test_clean(text: str, cleaned: str) -> None:
    assert clean(text) == cleaned


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("can a worker co-op sell books under the peer production license", "en"),
        ("¿puede una cooperativa de trabajo vender libros con la licencia?", "es"),
        ("Darf unsere Genossenschaft das Werk verkaufen?", "de"),
        ("Est-ce qu'une coopérative peut vendre l'œuvre ?", "fr"),
        ("Uma cooperativa de trabalho pode vender o livro?", "pt"),
        ("ppl drm?", "en"),  # too short to tell: English
    ],
)
def test_language_of_a_question(norm: Normalizer, text: str, lang: str) -> None:
    assert norm.language(text) == lang


@pytest.mark.parametrize(
    ("lang", "a", "b"),
    [
        ("en", "licences", "licensing"),  # synonyms of the vocabulary
        ("en", "companies", "firm"),
        ("en", "cooperatives", "co-op"),
        ("es", "cooperativas", "cooperativa"),  # Snowball stems of each language
        ("es", "licencias", "licencia"),
        ("de", "Genossenschaften", "Genossenschaft"),
        ("de", "Lizenzen", "Lizenz"),
        ("fr", "coopératives", "coopérative"),
        ("fr", "commerciales", "commercial"),
        ("pt", "cooperativas", "cooperativa"),
        ("pt", "licenças", "licença"),
    ],
)
def test_words_of_one_meaning_share_a_token(norm: Normalizer, lang: str, a: str, b: str) -> None:
    assert norm.tokens(a, lang) == norm.tokens(b, lang)


def test_multi_word_terms_and_chat_stop_words(norm: Normalizer) -> None:
    """Terms become one token; chat filler and function words (the `stopwords` package) go."""
    assert norm.surface("lol pls the Peer Production Licence for worker-owned co-ops") == ["ppl", "workerowned", "coop"]
    assert norm.surface("la licencia de producción de pares") == ["ppl"]


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("what does 4(c) say", True),
        ("section 6 please", True),
        ("is copyfarleft a thing", True),
        ("can a co-op use ppl works", True),
        ("how many hours do I need for my ppl pilot licence", False),  # another PPL
        ("ppl electric bill", False),
        ("what's the weather tomorrow", False),
    ],
)
def test_naming_the_subject(norm: Normalizer, text: str, named: bool) -> None:
    assert norm.names_domain(norm.tokens(text)) is named


ENTRIES = [
    Entry(
        "authors",
        ("who wrote the peer production license", "authors of the ppl"),
        "Kleiner and Magyar.",
        ("PPL header",),
    ),
    Entry(
        "coops",
        ("can a worker co-op sell ppl works", "commercial use by cooperatives"),
        "Under 4(c).",
        ("PPL 4(c)",),
    ),
    Entry(
        "companies",
        ("can a company use ppl works", "corporate use of the ppl"),
        "Section 4(d) bars it.",
        ("PPL 4(d)",),
    ),
]


def test_answers_a_paraphrase_with_typos_and_explains_why() -> None:
    matcher = Matcher(ENTRIES)
    match = matcher.match("can a compnay use PPL workz??")
    assert match.kind is MatchKind.ANSWER and match.best is not None and match.best.entry.id == "companies"
    (why, *_) = matcher.explain("can a compnay use PPL workz??")
    assert why.phrase == "can a company use ppl works" and why.score > 60


def test_real_words_and_chat_words_are_not_taken_for_typos(kb: KnowledgeBase) -> None:
    """A word of five letters or more that the entries do not use is corrected to the nearest one
    they use, unless it is a real word (a whole word of the static model's vocabulary) or chat
    filler: "lunch" stays "lunch" (not "bunch") and "bitte" stays out (not "boite")."""
    matcher = Matcher(kb.entries, Normalizer(kb.vocabulary), load_embedder())
    assert matcher._correct("lunch") == "lunch" and matcher._correct("movie") == "movie"
    assert matcher._correct("licnse") == "license"
    assert "boite" not in matcher.normalizer.surface("Was ist Copyfarleft? kurz bitte", matcher._correct)
    assert Matcher(kb.entries, Normalizer(kb.vocabulary))._correct("lunch") != "lunch"  # no model: no dictionary


def test_the_semantic_signal_joins_the_scores() -> None:
    embedder = load_embedder()
    assert embedder is not None, "the shipped static model must load"
    best = Matcher(ENTRIES, embedder=embedder).explain("who are the people who wrote the ppl")[0]
    assert best.entry.id == "authors" and best.semantic is not None and best.semantic > 0.5


def test_off_topic_is_not_answered() -> None:
    assert Matcher(ENTRIES).match("what's the weather in Berlin tomorrow?").kind is MatchKind.NONE


def test_empty_query() -> None:
    assert Matcher(ENTRIES).match("?!").kind is MatchKind.NONE


def _candidate(entry_id: str, score: float, coverage: float = 1.0) -> Candidate:
    return Candidate(Entry(entry_id, ("q",), "a", ("PPL 3",)), "q", score, coverage)


def _never_same(a: Entry, b: Entry) -> bool:
    return False


@pytest.mark.parametrize(
    ("scores", "on_topic", "kind"),
    [
        ((80.0, 40.0), False, MatchKind.ANSWER),  # clear, with a lead over another topic
        ((50.0, 49.5), True, MatchKind.SUGGEST),  # clear enough, but no lead over the rival
        ((60.0, 20.0), False, MatchKind.SUGGEST),  # not naming the subject needs a higher score
        ((15.0,), True, MatchKind.NONE),  # too weak: "I don't know"
    ],
)
def test_the_gate_has_three_outcomes(scores: tuple[float, ...], on_topic: bool, kind: MatchKind) -> None:
    th = Thresholds(
        answer_cutoff=40, answer_cutoff_unanchored=70, suggest_cutoff=25, suggest_cutoff_unanchored=45, margin=3
    )
    ranked = [_candidate(f"e{i}", s) for i, s in enumerate(scores)]
    assert decide(ranked, on_topic, "en", th, _never_same).kind is kind


def test_the_gate_needs_the_question_words_in_the_entry() -> None:
    th = Thresholds(answer_cutoff=40, min_coverage=0.5)
    assert decide([_candidate("e", 90.0, coverage=0.2)], True, "en", th, _never_same).kind is MatchKind.SUGGEST


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_never_raises(text: str) -> None:
    matcher = _MATCHER
    match = matcher.match(text)
    assert match.kind in set(MatchKind)
    assert isinstance(words(text), list)


_MATCHER = Matcher(ENTRIES)
