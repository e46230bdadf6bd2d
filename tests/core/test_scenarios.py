"""Situations as table tests: each is played with a newcomer's own words and must reach its verdict.

- tests/data/scenarios.yaml: 60 situations written by someone who never saw the questionnaire,
  with the verdict the licence text supports (reviewed against the dossier);
- the usage scenarios of the dev set and of tests/data/second-eval.yaml.
The answers are in tests/data/scenario-answers.yaml.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pplbot.core import questionnaire as quiz
from pplbot.core.knowledge import KnowledgeBase, Questionnaire
from pplbot.core.sessions import QuizState
from tests.conftest import ROOT

DATA = ROOT / "tests" / "data"
DEV = ROOT.parent / "shared" / "eval" / "dev-questions.yaml"
ANSWERS = yaml.safe_load((DATA / "scenario-answers.yaml").read_text(encoding="utf-8"))
# Where this questionnaire departs from a dev-set verdict, and why (issue: a `permitted` verdict
# carries no condition; swapping files is distributing, so Sections 4(a) and 4(e) apply).
OVERRIDES = {
    "An individual swaps PPL music files": (
        "permitted_with_conditions",
        "file swapping is a Distribute: the licence notice and credit (4(a), 4(e)) still apply",
    ),
}


def _load(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        pytest.skip(f"{path} is missing (CI puts ../shared beside the repository): the dev-set scenarios did not run")
    scenarios = yaml.safe_load(path.read_text(encoding="utf-8"))["usage_scenarios"]
    assert isinstance(scenarios, list)
    return scenarios


def _play(form: Questionnaire, answers: list[str]) -> tuple[str, list[str]]:
    state = QuizState()
    trace = []
    for said in answers:
        state, outcome, understood = quiz.answer(form, state, said)
        trace.append(f"{said!r} -> {understood.echo if understood else type(outcome).__name__}")
        if isinstance(outcome, quiz.Invalid):
            return "not understood", trace
        if isinstance(outcome, quiz.Done):
            return outcome.verdict.kind.value, trace
    return "unfinished", trace


@pytest.fixture(scope="module")
def form(kb: KnowledgeBase) -> Questionnaire:
    assert kb.questionnaire is not None
    return kb.questionnaire


def test_sixty_new_situations(form: Questionnaire) -> None:
    scenarios = yaml.safe_load((DATA / "scenarios.yaml").read_text(encoding="utf-8"))["scenarios"]
    assert len(scenarios) == 60
    wrong = []
    for scenario in scenarios:
        got, trace = _play(form, ANSWERS["scenarios"][scenario["id"]])
        if got != scenario["verdict"]:
            wrong.append(f"{scenario['id']}: expected {scenario['verdict']}, got {got}: {trace}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(("set_name", "path"), [("dev", DEV), ("second", DATA / "second-eval.yaml")])
def test_dev_and_second_set_situations(form: Questionnaire, set_name: str, path: Path) -> None:
    scenarios = _load(path)
    answers = ANSWERS[set_name]
    assert len(answers) == len(scenarios)
    wrong = []
    for prefix, said in answers.items():
        (scenario,) = [s for s in scenarios if str(s["situation"]).startswith(prefix)]
        expected = OVERRIDES.get(prefix, (scenario["verdict"], ""))[0]
        got, trace = _play(form, said)
        if got != expected:
            wrong.append(f"{prefix}: expected {expected}, got {got}: {trace}")
    assert not wrong, "\n".join(wrong)
