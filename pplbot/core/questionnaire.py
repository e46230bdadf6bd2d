"""The questionnaire engine: a pure step function over the questionnaire graph.

`current(form, state)` says where a person is; `answer(form, state, text, option)` takes one
answer (a number, an option's text with typos, "yes"/"nope", or a button's value) and returns
the next state with an Ask (next question), an Invalid (answer refused) or a Done (verdict).
Going back drops the last answer, so later answers are re-asked as needed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from rapidfuzz import fuzz

from pplbot.core.knowledge import Question, Questionnaire, Verdict
from pplbot.core.normalizing import normalize, words
from pplbot.core.sessions import QuizState

__all__ = ["Ask", "Done", "Invalid", "answer", "back", "button_value", "current", "parse_button"]

_YES = frozenset(
    [
        "yes",
        "y",
        "yep",
        "yeah",
        "yup",
        "ya",
        "sure",
        "correct",
        "right",
        "true",
        "si",
        "sim",
        "ja",
        "oui",
        "affirmative",
        "indeed",
    ]
)
_NO = frozenset(["no", "n", "nope", "nah", "nop", "not", "false", "nein", "non", "nao", "never"])
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
) -> tuple[QuizState, Ask | Invalid | Done]:
    state = valid_answers(form, state)
    node = current(form, state)
    if isinstance(node, Done):
        return state, node
    question = node.question
    if option is not None:
        parsed = parse_button(option)
        if parsed is None or parsed[0] != question.id or not 0 <= parsed[1] < len(question.options):
            return state, Invalid(node, "That button belongs to an earlier question. Please answer this one:")
        index: int | None = parsed[1]
    else:
        index = choose(question, text)
    if index is None:
        return state, Invalid(
            node, f"Please answer with a number from 1 to {len(question.options)}, or the option's words."
        )
    new_state = replace(state, answers=(*state.answers, (question.id, index)))
    return new_state, current(form, new_state)


def choose(question: Question, text: str) -> int | None:
    """The option `text` picks: its number, yes/no, or the closest label or alias."""
    tokens = words(text)
    if not tokens:
        return None
    if len(tokens) == 1 and tokens[0].isdigit():
        n = int(tokens[0])
        return n - 1 if 1 <= n <= len(question.options) else None
    polarity = _polarity(tokens)
    if polarity is not None:
        for i, option in enumerate(question.options):
            names = {w for name in (option.label, *option.aliases) for w in words(name)[:1]}
            if (polarity and names & {"yes"}) or (not polarity and names & {"no"}):
                return i
    scores = [max(_similarity(text, name) for name in (o.label, *o.aliases)) for o in question.options]
    ranked = sorted(range(len(scores)), key=lambda i: -scores[i])
    best = ranked[0]
    runner_up = scores[ranked[1]] if len(ranked) > 1 else 0.0
    if scores[best] >= 75 and scores[best] - runner_up >= 8:
        return best
    return None


def _similarity(said: str, name: str) -> float:
    """How well `said` names the option `name` (0-100): mostly, how much of what the person
    typed is in the option (typos allowed); a little, how much of the option they typed."""
    a, b = normalize(said), normalize(name)
    if not a:  # only stop words ("just me"): compare the plain words
        a, b = tuple(words(said)), tuple(words(name))
    if not a or not b:
        return 0.0
    matched = sum(1 for t in a if t in b or (len(t) >= 4 and any(fuzz.ratio(t, u) >= 80 for u in b)))
    return 100 * (0.8 * matched / len(a) + 0.2 * min(1.0, matched / len(b)))


def _polarity(tokens: list[str]) -> bool | None:
    if len(tokens) > 3:
        return None
    if tokens[0] in _YES:
        return True
    if tokens[0] in _NO:
        return False
    return None
