"""Normalisation and the matcher's decisions, on small hand-made entries."""

from __future__ import annotations

import pytest

from pplbot.core.knowledge import Entry
from pplbot.core.matching import Matcher, MatchKind, Thresholds
from pplbot.core.normalizing import mentions_domain, normalize


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Who wrote the Peer Production License?", ("author", "ppl")),
        ("Can a co-op sell PPL works under 4(c)(ii)?", ("coop", "sell", "ppl", "work", "under", "4c", "4cii")),
        ("non-commercial use by NGOs", ("noncommercial", "use", "nonprofit")),
        ("CC BY-NC-SA vs PPL", ("cc", "byncsa", "ppl")),
        ("§6 of the licence", ("section", "6", "license")),
        ("¿Quién escribió la licencia de producción de pares?", ("author", "ppl")),
    ],
)
def test_normalize(text: str, tokens: tuple[str, ...]) -> None:
    assert normalize(text) == tokens


def test_normalize_folds_languages_onto_the_same_words() -> None:
    assert (
        "coop" in normalize("Genossenschaft")
        and "coop" in normalize("cooperativa")
        and "coop" in normalize("coopérative")
    )
    assert normalize("licença") == normalize("licence") == normalize("license")


@pytest.mark.parametrize(
    ("text", "anchored"),
    [
        ("is the ppl open source?", True),
        ("what is copyfarleft", True),
        ("what does 4(d) say", True),
        ("section 6 liability", True),
        ("how do I set up 2FA on github", False),
        ("I have 2 cats", False),
        ("what's the weather in Berlin", False),
    ],
)
def test_mentions_domain(text: str, anchored: bool) -> None:
    assert mentions_domain(normalize(text)) is anchored


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
        "Yes, under 4(c).",
        ("PPL 4(c)",),
    ),
    Entry(
        "companies",
        ("can a company use ppl works", "corporate use of the ppl"),
        "Not without a licence.",
        ("PPL 4(d)",),
    ),
]


def test_answers_a_paraphrase_with_typos_and_explains_why() -> None:
    matcher = Matcher(ENTRIES)
    match = matcher.match("can a compnay use PPL workz??")
    assert match.kind is MatchKind.ANSWER and match.best is not None and match.best.entry.id == "companies"
    (why, *_) = matcher.explain("can a compnay use PPL workz??")
    assert why.phrase == "can a company use ppl works" and why.score > 60


def test_off_topic_is_not_answered() -> None:
    assert Matcher(ENTRIES).match("what's the weather in Berlin tomorrow?").kind is MatchKind.NONE


def test_close_entries_give_suggestions_not_a_guess() -> None:
    matcher = Matcher(ENTRIES, Thresholds(answer_cutoff=99, suggest_cutoff=20))
    match = matcher.match("can a co-op or a company use ppl works")
    assert match.kind is MatchKind.SUGGEST
    assert {c.entry.id for c in match.candidates} >= {"coops", "companies"}


def test_empty_query() -> None:
    assert Matcher(ENTRIES).match("?!").kind is MatchKind.NONE
