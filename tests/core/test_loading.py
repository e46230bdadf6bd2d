"""Every class of knowledge-base problem is reported with file and line, all at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from pplbot.errors import KnowledgeError
from pplbot.knowledge_files import load_knowledge

GOOD = """\
entries:
  - id: a
    questions: ["what is alpha", "tell me about alpha"]
    answer: "A is a thing."
    sources: ["PPL 3"]
"""


def write(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "knowledge"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def problems(tmp_path: Path, files: dict[str, str]) -> list[str]:
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(write(tmp_path, files))
    return [str(i) for i in info.value.issues]


def test_good_file_loads(tmp_path: Path) -> None:
    kb = load_knowledge(write(tmp_path, {"faq/a.yaml": GOOD}))
    assert [e.id for e in kb.entries] == ["a"]
    assert kb.entries[0].file == "knowledge/faq/a.yaml" and kb.entries[0].line == 2
    assert kb.version


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    bad = GOOD + "  - id: b\n    questions: [unclosed\n"
    (issue,) = problems(tmp_path, {"faq/a.yaml": bad})
    assert issue.startswith("knowledge/faq/a.yaml:8: YAML syntax error")


def test_syntax_error_line_is_where_the_problem_is(tmp_path: Path) -> None:
    bad = "entries:\n  - id: a\n    answer: [\n  bad: : :\n"
    (issue,) = problems(tmp_path, {"faq/a.yaml": bad})
    assert issue.startswith("knowledge/faq/a.yaml:4: YAML syntax error")


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    other = GOOD.replace("alpha", "beta")
    (issue,) = problems(tmp_path, {"faq/a.yaml": GOOD, "faq/b.yaml": other})
    assert issue == "knowledge/faq/b.yaml:2: id a: duplicate id (first defined at knowledge/faq/a.yaml:2)"


@pytest.mark.parametrize(
    ("value", "read_as"),
    [("yes", "a boolean"), ("no", "a boolean"), ("on", "a boolean"), ("012", "a number"), ("1.0", "a number")],
)
def test_yaml_11_scalars_where_strings_belong(tmp_path: Path, value: str, read_as: str) -> None:
    text = GOOD.replace('answer: "A is a thing."', f"answer: {value}")
    (issue,) = problems(tmp_path, {"faq/a.yaml": text})
    assert issue == (
        f"knowledge/faq/a.yaml:4: entries[0].answer: must be a string, but YAML read {value!r} as {read_as}; put it in quotes"
    )


def test_yaml_11_boolean_in_a_list(tmp_path: Path) -> None:
    text = GOOD.replace('questions: ["what is alpha", "tell me about alpha"]', 'questions: ["what is alpha", no]')
    (issue,) = problems(tmp_path, {"faq/a.yaml": text})
    assert issue.startswith("knowledge/faq/a.yaml:3: entries[0].questions[1]: must be a string, but YAML read 'no'")


def test_unknown_key_with_suggestion(tmp_path: Path) -> None:
    text = GOOD.replace("answer:", "anwser:")
    issues = problems(tmp_path, {"faq/a.yaml": text})
    assert (
        "knowledge/faq/a.yaml:4: entries[0].anwser: unknown key (did you mean 'answer'?); allowed: id, questions, answer, more, sources, tags, related"
        in issues
    )
    assert "knowledge/faq/a.yaml:4: entries[0].answer: must be a non-empty string" not in issues
    assert any("entries[0].answer" in i or "entries[0]" in i for i in issues)


def test_dangling_related(tmp_path: Path) -> None:
    text = GOOD + '    related: ["nowhere"]\n'
    (issue,) = problems(tmp_path, {"faq/a.yaml": text})
    assert issue == "knowledge/faq/a.yaml:2: id a: related id 'nowhere' does not exist"


def test_same_phrase_in_two_entries_after_normalisation(tmp_path: Path) -> None:
    other = """\
entries:
  - id: b
    questions: ["What is ALPHA?!", "something else entirely"]
    answer: "B."
    sources: ["PPL 4"]
"""
    (issue,) = problems(tmp_path, {"faq/a.yaml": GOOD, "faq/b.yaml": other})
    assert (
        issue
        == "knowledge/faq/b.yaml:2: id b: phrase 'What is ALPHA?!' is the same as one in entry 'a' (knowledge/faq/a.yaml:2)"
    )


def test_entry_without_sources(tmp_path: Path) -> None:
    text = GOOD.replace('    sources: ["PPL 3"]\n', "")
    (issue,) = problems(tmp_path, {"faq/a.yaml": text})
    assert issue == "knowledge/faq/a.yaml:2: entries[0]: entry has no sources: cite a licence section or a source"


def test_every_problem_is_collected(tmp_path: Path) -> None:
    text = GOOD.replace("answer:", "anwser:").replace('    sources: ["PPL 3"]\n', "") + '    related: ["x"]\n'
    issues = problems(tmp_path, {"faq/a.yaml": text, "faq/b.yaml": "entries: [\n"})
    assert len(issues) >= 4
    assert any(i.startswith("knowledge/faq/b.yaml:") for i in issues)


def test_empty_string_and_wrong_types(tmp_path: Path) -> None:
    text = GOOD.replace('answer: "A is a thing."', 'answer: "  "').replace('["PPL 3"]', '"PPL 3"')
    issues = problems(tmp_path, {"faq/a.yaml": text})
    assert "knowledge/faq/a.yaml:4: entries[0].answer: must be a non-empty string" in issues
    assert "knowledge/faq/a.yaml:5: entries[0].sources: must be a list of strings" in issues


def test_bad_id_and_duplicate_key(tmp_path: Path) -> None:
    issues = problems(tmp_path, {"faq/a.yaml": GOOD.replace("id: a", "id: Bad Id")})
    assert issues == ["knowledge/faq/a.yaml:2: entries[0].id: must use lowercase letters, digits and '-' only"]
    issues = problems(tmp_path, {"faq/a.yaml": GOOD + '    answer: "again"\n'})
    assert issues == ["knowledge/faq/a.yaml:6: duplicate key 'answer'"]


QUIZ = """\
questionnaire:
  title: "Check"
  start: q1
  disclaimer: "Not legal advice."
  conditions:
    credit: "Give credit (PPL 4(e))."
  questions:
    - id: q1
      text: "Commercial?"
      why: "4(b)"
      options:
        - label: "No"
          next: v-ok
        - label: "Yes"
          next: q2
    - id: q2
      text: "Worker-owned?"
      why: "4(c)"
      options:
        - label: "Yes"
          next: v-ok
        - label: "No"
          next: v-no
  verdicts:
    - id: v-ok
      verdict: permitted_with_conditions
      why: "Because."
      detail: "Because, in full."
      sections: ["4(b)"]
      conditions: [credit]
      next_steps: "Go."
    - id: v-no
      verdict: needs_separate_permission
      why: "4(d)."
      detail: "Section 4(d) in full."
      sections: ["4(d)"]
      conditions: []
      next_steps: "Ask the licensor."
"""


def test_questionnaire_loads(tmp_path: Path) -> None:
    kb = load_knowledge(write(tmp_path, {"faq/a.yaml": GOOD, "questionnaire.yaml": QUIZ}))
    assert kb.questionnaire is not None
    assert kb.questionnaire.depth == 2
    assert kb.questionnaire.verdicts["v-ok"].conditions == ("Give credit (PPL 4(e)).",)


def quiz_problems(tmp_path: Path, quiz: str) -> list[str]:
    return problems(tmp_path, {"faq/a.yaml": GOOD, "questionnaire.yaml": quiz})


def test_questionnaire_dead_end(tmp_path: Path) -> None:
    issues = quiz_problems(tmp_path, QUIZ.replace("next: v-no", "next: v-missing"))
    assert issues == [
        "knowledge/questionnaire.yaml:23: questionnaire.questions[1].options[1].next: "
        "leads to 'v-missing', which is neither a question nor a verdict"
    ]


def test_questionnaire_cycle(tmp_path: Path) -> None:
    issues = quiz_problems(tmp_path, QUIZ.replace("next: v-no", "next: q1"))
    assert "knowledge/questionnaire.yaml:8: questionnaire.questions[0].id: question 'q1' is part of a cycle" in issues


def test_questionnaire_unreachable_verdict(tmp_path: Path) -> None:
    issues = quiz_problems(tmp_path, QUIZ.replace("next: v-no", "next: v-ok"))
    assert issues == [
        "knowledge/questionnaire.yaml:32: questionnaire.verdicts[1].id: verdict 'v-no' cannot be reached from the start"
    ]


def test_questionnaire_verdict_without_sections_or_unknown_kind(tmp_path: Path) -> None:
    text = QUIZ.replace('sections: ["4(d)"]', "sections: []").replace(
        "verdict: needs_separate_permission", "verdict: maybe"
    )
    issues = quiz_problems(tmp_path, text)
    assert any("verdicts[1].sections: must have at least 1 item" in i for i in issues)
    assert any("verdicts[1].verdict: must be one of permitted, permitted_with_conditions" in i for i in issues)


def test_questionnaire_unknown_condition_and_single_option(tmp_path: Path) -> None:
    text = QUIZ.replace("conditions: [credit]", "conditions: [credit, drm]")
    issues = quiz_problems(tmp_path, text)
    assert any("verdicts[0].conditions[1]: unknown condition 'drm'" in i for i in issues)


def test_real_knowledge_base_has_no_problems(kb: object) -> None:
    # loading the fixture raised nothing
    assert kb is not None


# ------------------------------------------------------------ content rules (truth and length)
@pytest.mark.parametrize(
    "lead",
    [
        "Yes, a co-op may.",
        "No: only co-ops.",
        "Generally yes.",
        "Usually not.",
        "Either is fine.",
        "Sí, puede.",
        "Nein.",
        "Oui.",
        "Não.",
    ],
)
def test_an_answer_may_not_open_with_a_bare_yes_or_no(tmp_path: Path, lead: str) -> None:
    text = GOOD.replace('answer: "A is a thing."', f'answer: "{lead} A is a thing."')
    (issue,) = problems(tmp_path, {"faq/a.yaml": text})
    assert issue.startswith("knowledge/faq/a.yaml:4: entries[0].answer: opens with ")
    assert "state the rule in the first sentence" in issue


def test_an_answer_may_not_be_over_120_words(tmp_path: Path) -> None:
    text = GOOD.replace('answer: "A is a thing."', "answer: " + '"' + "word " * 121 + '"')
    (issue,) = problems(tmp_path, {"faq/a.yaml": text})
    assert issue == (
        "knowledge/faq/a.yaml:4: entries[0].answer: has 121 words; keep it to 120 (a lead sentence and the "
        "sections) and move the rest to 'more'"
    )


def test_a_permitted_verdict_may_not_carry_conditions(tmp_path: Path) -> None:
    text = QUIZ.replace("verdict: permitted_with_conditions", "verdict: permitted")
    issues = quiz_problems(tmp_path, text)
    assert any(
        i.startswith("knowledge/questionnaire.yaml:")
        and "verdicts[0].conditions: a 'permitted' verdict must have no conditions" in i
        for i in issues
    ), issues


def test_a_path_may_not_add_conditions_on_its_way_to_a_permitted_verdict(tmp_path: Path) -> None:
    text = QUIZ.replace("verdict: permitted_with_conditions", "verdict: permitted").replace(
        '      conditions: [credit]\n      next_steps: "Go."', '      next_steps: "Go."'
    )
    text = text.replace(
        '        - label: "No"\n          next: v-ok',
        '        - label: "No"\n          conditions: [credit]\n          next: v-ok',
    )
    issues = quiz_problems(tmp_path, text)
    assert issues == [
        "knowledge/questionnaire.yaml:14: questionnaire.questions[0].options[0].next: "
        "leads to the 'permitted' verdict 'v-ok' on a path that adds conditions"
    ]


def test_a_verdict_why_is_at_most_40_words(tmp_path: Path) -> None:
    text = QUIZ.replace('why: "Because."', 'why: "' + "because " * 41 + '"')
    issues = quiz_problems(tmp_path, text)
    assert any("verdicts[0].why: has 41 words; keep it to 40" in i for i in issues), issues


VOCABULARY = """\
vocabulary:
  terms:
    workerowned: [worker owned]
  synonyms:
    en:
      company: [firm]
  stop_words: [lol]
  domain_terms: [ppl]
  clash_terms: [pilot]
"""


def test_the_vocabulary_loads_and_is_validated(tmp_path: Path) -> None:
    kb = load_knowledge(write(tmp_path, {"faq/a.yaml": GOOD, "vocabulary.yaml": VOCABULARY}))
    assert kb.vocabulary.terms["workerowned"] == ("worker owned",)
    assert kb.vocabulary.synonyms["en"]["company"] == ("firm",)
    bad = VOCABULARY.replace("    en:", "    xx:").replace("stop_words: [lol]", "stop_words: [lol, 12]")
    issues = problems(tmp_path, {"faq/a.yaml": GOOD, "vocabulary.yaml": bad})
    assert any(i.startswith("knowledge/vocabulary.yaml:6: vocabulary.synonyms.xx: unknown key") for i in issues), issues
    assert any("vocabulary.stop_words[1]: must be a string, but YAML read '12' as a number" in i for i in issues), (
        issues
    )
