"""The bundled knowledge base itself: schema, coverage of the licence, retrieval floors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from pplbot.bench import evaluate
from pplbot.core.bot import Bot
from pplbot.core.gate import MatchKind
from pplbot.core.knowledge import KnowledgeBase
from tests.conftest import ROOT

LICENCE_SECTIONS = (
    [f"1({c})" for c in "abcdefghi"]
    + ["2"]
    + [f"3({c})" for c in "abcd"]
    + [f"4({c})" for c in "abcdefg"]
    + ["4(c)(i)", "4(c)(ii)", "5", "6", "7(a)", "7(b)"]
    + [f"8({c})" for c in "abcdef"]
)


def test_size_and_paraphrases(kb: KnowledgeBase) -> None:
    assert len(kb.entries) >= 120
    thin = [e.id for e in kb.entries if len(e.questions) < 5]
    assert not thin, f"entries with fewer than 5 paraphrases: {thin}"
    assert all(e.sources for e in kb.entries)


def test_every_section_of_the_licence_has_an_entry(kb: KnowledgeBase) -> None:
    cited = {s.removeprefix("PPL ").replace(" ", "") for e in kb.entries for s in e.sources if s.startswith("PPL ")}
    missing = [sec for sec in LICENCE_SECTIONS if not any(c == sec or c.startswith(sec) for c in cited)]
    assert not missing, f"no entry cites {missing}"


@pytest.mark.parametrize(
    ("language", "marker"),
    [
        ("Spanish", r"¿|\b(el|la|los|una|puedo|puede|qué|licencia)\b"),
        ("German", r"\b(der|die|das|ist|kann|darf|wir|lizenz|nicht)\b"),
        ("French", r"\b(le|les|une|est-ce|peut|licence|qu'|d'une)\b"),
        ("Portuguese", r"\b(uma|pode|licença|posso|não|é)\b"),
    ],
)
def test_core_topics_in_other_languages(kb: KnowledgeBase, language: str, marker: str) -> None:
    pattern = re.compile(marker, re.IGNORECASE)
    entries = [e.id for e in kb.entries if any(pattern.search(q) for q in e.questions)]
    assert len(entries) >= 15, f"only {len(entries)} entries have {language} paraphrases"


def test_answers_are_short_and_cite_sources(kb: KnowledgeBase) -> None:
    long = [e.id for e in kb.entries if len(e.answer) > 1400]
    assert not long, f"answers that are not concise: {long}"


def test_quotes_of_the_licence_are_verbatim(kb: KnowledgeBase) -> None:
    """Any double-quoted passage of 6+ words attributed to the PPL must occur in the dossier."""
    dossier_path = ROOT.parent / "shared" / "reference" / "ppl-dossier.md"
    if not dossier_path.exists():
        pytest.skip(
            f"{dossier_path} is missing (CI puts ../shared beside the repository):"
            " the check that every licence quote is verbatim did not run"
        )
    squash = lambda t: re.sub(r"[\s“”\"'’‘…]+", " ", t).lower()
    dossier = squash(dossier_path.read_text(encoding="utf-8"))
    bad = []
    for e in kb.entries:
        for text in (e.answer, e.more or ""):
            for quote in (q for q in re.findall(r'"([^"]*)"', text) if len(q) >= 30):
                parts = [p.strip() for p in re.split(r"…|\.\.\.", quote) if len(p.strip().split()) >= 6]
                bad += [f"{e.id}: {p[:60]}" for p in parts if squash(p).strip(" .,;:") not in dossier]
    assert len(bad) <= 5, "quotes not found verbatim in the dossier:\n" + "\n".join(bad)


def load(path: Path) -> dict[str, list[dict[str, object]]]:
    if not path.exists():
        pytest.skip(f"{path} is missing (CI puts ../shared beside the repository): this retrieval floor did not run")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_retrieval_floor_on_the_dev_set(bot: Bot) -> None:
    quality = evaluate(bot, load(ROOT.parent / "shared" / "eval" / "dev-questions.yaml"))
    assert quality.in_scope_pass >= 0.87, quality.failures
    assert quality.out_of_scope_false <= 0.03, quality.failures


def test_retrieval_floor_on_the_second_set(bot: Bot) -> None:
    """A second set written without looking at the knowledge base: a guard against overfitting."""
    quality = evaluate(bot, load(ROOT / "tests" / "data" / "second-eval.yaml"))
    assert quality.in_scope_pass >= 0.72, quality.failures
    assert quality.out_of_scope_false <= 0.03, quality.failures


def test_retrieval_floor_on_the_blind_sets(bot: Bot) -> None:
    """Written by helpers who never saw the knowledge base. The second, third and fourth sets
    helped choose how the static model is trained (by top-1 accuracy); the fifth was never used
    to tune anything. These floors only guard against a regression, they are not targets."""
    tuning = evaluate(bot, load(ROOT / "tests" / "data" / "tuning-eval.yaml"))
    assert tuning.in_scope_pass >= 0.68 and tuning.out_of_scope_false <= 0.05, tuning.failures
    third = evaluate(bot, load(ROOT / "tests" / "data" / "third-eval.yaml"))
    assert third.in_scope_pass >= 0.72 and third.out_of_scope_false <= 0.10, third.failures
    fourth = evaluate(bot, load(ROOT / "tests" / "data" / "fourth-eval.yaml"))
    assert fourth.in_scope_pass >= 0.75 and fourth.out_of_scope_false <= 0.05, fourth.failures
    fifth = evaluate(bot, load(ROOT / "tests" / "data" / "fifth-eval.yaml"))
    assert fifth.in_scope_pass >= 0.80 and fifth.out_of_scope_false <= 0.05, fifth.failures


def test_hard_off_topic_questions_are_not_answered(bot: Bot) -> None:
    """180 off-topic questions that share words with licence questions or name another PPL
    (the gate was fitted on them): at most 2 % may get a licence answer."""
    quality = evaluate(bot, load(ROOT / "tests" / "data" / "offtopic-fit.yaml"))
    assert quality.out_of_scope_false <= 0.02, quality.failures


def test_several_typos_still_get_did_you_mean(bot: Bot) -> None:
    """Issue 14: this got a flat "I don't know" while the spelled question is answered."""
    spelled = bot.matcher.match("do i have to credit the original author if i remix it")
    typos = bot.matcher.match("do i hav to credt the orignal autor if i remix it")
    assert spelled.kind is MatchKind.ANSWER and spelled.best is not None
    assert typos.kind in {MatchKind.ANSWER, MatchKind.SUGGEST}
    assert spelled.best.entry.id in [c.entry.id for c in typos.candidates[:3]]


def test_a_missing_shared_folder_is_named_in_the_skip() -> None:
    with pytest.raises(pytest.skip.Exception, match=r"CI puts \.\./shared beside the repository.*did not run"):
        load(ROOT.parent / "no-such-shared" / "dev-questions.yaml")
