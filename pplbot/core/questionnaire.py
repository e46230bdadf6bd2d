"""The questionnaire engine: a pure step function over the questionnaire graph.

`current(form, state)` says where a person is; `answer(form, state, text, option)` takes one
answer (a number, a button's value, or words: see quiz_answers.py) and returns the next state
with an Ask (next question), an Invalid (answer not understood) or a Done (verdict), and the
option it understood from free text, so a misread can be shown and fixed with `back`. Going
back drops the last answer, so later answers are re-asked as needed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from pplbot.core.knowledge import Answer, Question, Questionnaire, Verdict, VerdictKind
from pplbot.core.quiz_answers import candidates, choose
from pplbot.core.sessions import QuizState

__all__ = ["Ask", "Done", "Invalid", "answer", "back", "button_value", "choose", "current", "parse_button"]

_SHOWS_CONDITIONS = (VerdictKind.PERMITTED_WITH_CONDITIONS, VerdictKind.UNCLEAR)

_BUTTON_PREFIX = "quiz:"


@dataclass(frozen=True, slots=True)
class Ask:
    question: Question
    number: int  # 1-based position of this question in the person's path
    at_most: int  # the most questions this path can still take, counting this one


@dataclass(frozen=True, slots=True)
class Invalid:
    ask: Ask
    message: str


@dataclass(frozen=True, slots=True)
class Done:
    verdict: Verdict
    path: tuple[tuple[Question, int], ...]  # the questions and the option chosen for each

    @property
    def chosen(self) -> tuple[Answer, ...]:
        return tuple(q.options[i] for q, i in self.path)

    @property
    def conditions(self) -> tuple[str, ...]:
        """The verdict's conditions and those its path added, each once; none for verdicts that
        do not grant the use (not permitted, needs separate permission)."""
        if self.verdict.kind not in _SHOWS_CONDITIONS:
            return ()
        added = [c for option in self.chosen for c in option.conditions]
        return tuple(dict.fromkeys([*added, *self.verdict.conditions]))


def button_value(question_id: str, index: int) -> str:
    """The value a button or reaction for an option sends (fits Telegram's 64 bytes)."""
    return f"{_BUTTON_PREFIX}{question_id}:{index}"[:64]


def parse_button(value: str) -> tuple[str, int] | None:
    if not value.startswith(_BUTTON_PREFIX):
        return None
    qid, _, index = value[len(_BUTTON_PREFIX) :].rpartition(":")
    return (qid, int(index)) if qid and index.isdigit() else None


def current(form: Questionnaire, state: QuizState) -> Ask | Done:
    """Follow the answers from the start; stop at the first unanswered question or a verdict.

    Answers that no longer fit (the questionnaire was edited) are dropped from that point.
    """
    node_id = form.start
    path: list[tuple[Question, int]] = []
    for qid, index in state.answers:
        question = form.questions.get(node_id)
        if question is None or question.id != qid or not 0 <= index < len(question.options):
            break
        path.append((question, index))
        node_id = question.options[index].next
        if node_id in form.verdicts:
            return Done(form.verdicts[node_id], tuple(path))
    question = form.questions[node_id] if node_id in form.questions else form.questions[form.start]
    if node_id not in form.questions:
        path = []
    return Ask(question, len(path) + 1, len(path) + form.depths.get(question.id, 1))


def valid_answers(form: Questionnaire, state: QuizState) -> QuizState:
    """The state trimmed to the answers that still lead somewhere."""
    node = current(form, state)
    kept = len(node.path) if isinstance(node, Done) else node.number - 1
    return replace(state, answers=state.answers[:kept])


def back(form: Questionnaire, state: QuizState) -> QuizState:
    trimmed = valid_answers(form, state)
    return replace(trimmed, answers=trimmed.answers[:-1])


def answer(
    form: Questionnaire, state: QuizState, text: str, option: str | None = None
) -> tuple[QuizState, Ask | Invalid | Done, Answer | None]:
    """One step; the third value is the option understood from typed words (None for numbers and buttons)."""
    state = valid_answers(form, state)
    node = current(form, state)
    if isinstance(node, Done):
        return state, node, None
    question = node.question
    understood: Answer | None = None
    if option is not None:
        parsed = parse_button(option)
        if parsed is None or parsed[0] != question.id or not 0 <= parsed[1] < len(question.options):
            return state, Invalid(node, "That button belongs to an earlier question. Please answer this one:"), None
        index: int | None = parsed[1]
    else:
        found = candidates(question, text)
        if len(found) > 1:
            numbers = ", ".join(str(i + 1) for i in found[:-1]) + f" or {found[-1] + 1}"
            return state, Invalid(node, f"That could be {numbers}. Reply with the number:"), None
        index = found[0] if found else None
        if index is not None and not text.strip().isdigit():
            understood = question.options[index]
    if index is None:
        return state, Invalid(node, "I didn't understand that as one of the options. Reply with a number:"), None
    new_state = replace(state, answers=(*state.answers, (question.id, index)))
    return new_state, current(form, new_state), understood
