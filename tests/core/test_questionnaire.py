"""The questionnaire: every path, answers in people's own words, and the controls."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from pplbot.core import questionnaire as quiz
from pplbot.core.bot import Bot, BotOptions
from pplbot.core.knowledge import KnowledgeBase, Questionnaire, VerdictKind
from pplbot.core.messages import ReplyKind
from pplbot.core.quiz_flow import CONTROL_WORDS
from pplbot.core.quiz_views import done_reply
from pplbot.core.sessions import QuizState, Session, SessionKey
from tests.conftest import ROOT, T0, incoming

GRANTING = {VerdictKind.PERMITTED, VerdictKind.PERMITTED_WITH_CONDITIONS}


@pytest.fixture(scope="module")
def form(kb: KnowledgeBase) -> Questionnaire:
    assert kb.questionnaire is not None
    return kb.questionnaire


def all_paths(form: Questionnaire) -> list[quiz.Done]:
    out: list[quiz.Done] = []

    def walk(state: QuizState) -> None:
        node = quiz.current(form, state)
        if isinstance(node, quiz.Done):
            out.append(node)
            return
        for i in range(len(node.question.options)):
            walk(QuizState((*state.answers, (node.question.id, i))))

    walk(QuizState())
    return out


def play(form: Questionnaire, answers: list[str]) -> quiz.Ask | quiz.Invalid | quiz.Done:
    state = QuizState()
    outcome: quiz.Ask | quiz.Invalid | quiz.Done = quiz.current(form, state)
    for text in answers:
        state, outcome, _ = quiz.answer(form, state, text)
    return outcome


# ------------------------------------------------------------ the graph
def test_every_path_ends_in_a_short_cited_verdict(form: Questionnaire) -> None:
    paths = all_paths(form)
    assert len(paths) >= 60
    for done in paths:
        v = done.verdict
        assert v.sections and v.why and v.detail and v.next_steps, v.id
        if v.kind is VerdictKind.PERMITTED:
            assert not done.conditions, f"{v.id} is 'permitted' but its path adds conditions"
        if v.kind is VerdictKind.PERMITTED_WITH_CONDITIONS:
            assert done.conditions, f"{v.id} must list the conditions that apply"
        words = len(done_reply(done).text.split())
        assert words <= 120, f"{v.id} via {[o.echo for o in done.chosen]}: {words} words"
    assert {d.verdict.id for d in paths} == set(form.verdicts)
    assert {v.kind for v in form.verdicts.values()} == set(VerdictKind)


def _is_wage_business(label: str) -> bool:
    low = label.lower()
    return ("company" in low and "employees" in low) or "employees or helpers" in low


def test_no_path_lets_a_privately_owned_wage_labour_business_use_the_work(form: Questionnaire) -> None:
    """Section 4(d): whatever else is answered, such a business never reaches a granting verdict."""
    checked = 0
    for done in all_paths(form):
        if any(_is_wage_business(o.label) for o in done.chosen):
            checked += 1
            assert done.verdict.kind not in GRANTING, (done.verdict.id, [o.echo for o in done.chosen])
    assert checked >= 8


def test_progress_counts_down(form: Questionnaire) -> None:
    first = quiz.current(form, QuizState())
    assert isinstance(first, quiz.Ask) and (first.number, first.at_most) == (1, form.depth)
    _, second, _ = quiz.answer(form, QuizState(), "3")
    assert isinstance(second, quiz.Ask) and second.number == 2 and second.at_most <= form.depth


# ------------------------------------------------------------ understanding answers
@pytest.mark.parametrize(
    "said", ["no DRM", "sin DRM", "ohne DRM", "sans DRM", "sem DRM", "without drm", "no copy protection"]
)
def test_negation_never_picks_the_option_it_denies(form: Questionnaire, said: str) -> None:
    sharing = form.questions["sharing"]
    drm = next(i for i, o in enumerate(sharing.options) if o.next == "v-drm")
    assert quiz.choose(sharing, said) != drm
    assert quiz.choose(sharing, said) == 0, "a negated DRM means the normal way: under the PPL"


@pytest.mark.parametrize(
    ("question", "said", "expected_next"),
    [
        ("activity", "copy and share it as it is", "sharing"),
        ("activity", "translate it into spanish", "sharing-adaptation"),
        ("activity", "sell my remix", "sharing-adaptation"),
        ("activity", "just wanna read it lol", "who-reading"),
        ("activity", "quotation", "v-quote"),
        ("activity", "trasnlate", "sharing-adaptation"),  # a typo
        ("who", "company with employees", "v-company"),
        ("who", "GmbH with 40 employees", "v-company"),
        ("who", "we're a worker co-op", "coop-staff"),
        ("who", "non-profit", "money-nonprofit"),
        ("who", "una cooperativa de trabajo", "coop-staff"),
        ("coop-staff", "no non-member employees", "money-coop"),
        ("coop-staff", "no, only members", "money-coop"),
        ("coop-staff", "yes, two employees who aren't members", "v-coop-nonmembers"),
        ("money-nonprofit", "yes, we sell merch", "v-nonprofit-commercial"),
        ("money-private", "nope, it's free", "v-noncommercial"),
        ("money-private", "kostenlos", "v-noncommercial"),
        ("sharing", "with the licence", "who"),
        ("sharing", "under a different licence", "v-relicense"),
        ("sharing", "MIT", "v-relicense"),  # the whole answer is an alias
        ("sharing", "mit Quellenangabe", "who"),  # German "with credit"
        ("sharing-bundled", "encrypted inside the game", "v-drm"),  # bundling does not skip DRM
        ("sharing-bundled", "with credit and the licence", "who-bundled"),
        ("who-reading", "we're a consumer co-op", "v-other-coop-noncommercial"),  # not lumped with worker co-ops
        ("who-resale", "a housing co-op", "money-other-coop"),
    ],
)
def test_answers_in_own_words(form: Questionnaire, question: str, said: str, expected_next: str) -> None:
    q = form.questions[question]
    index = quiz.choose(q, said)
    assert index is not None, said
    assert q.options[index].next == expected_next


@pytest.mark.parametrize("said", ["banana", "", "?!", "9", "0"])
def test_unclear_answers_are_refused(form: Questionnaire, said: str) -> None:
    state, outcome, _ = quiz.answer(form, QuizState(), said)
    assert isinstance(outcome, quiz.Invalid) and state.answers == ()


def test_a_tie_asks_for_the_number(form: Questionnaire) -> None:
    _, outcome, _ = quiz.answer(form, QuizState(), "translate it and post it")
    assert isinstance(outcome, quiz.Invalid) and "3 or 4" in outcome.message


def test_free_text_is_echoed_so_a_misread_can_be_seen(form: Questionnaire) -> None:
    _, _, understood = quiz.answer(form, QuizState(), "copy and share it as it is")
    assert understood is not None and understood.next == "sharing"
    _, _, by_number = quiz.answer(form, QuizState(), "3")
    assert by_number is None


def test_back_discards_later_answers(form: Questionnaire) -> None:
    state = QuizState()
    for said in ["3", "1", "1"]:
        state, _, _ = quiz.answer(form, state, said)
    state = quiz.back(form, state)
    node = quiz.current(form, state)
    assert isinstance(node, quiz.Ask) and node.question.id == "who"


def test_buttons_for_an_earlier_question_are_refused(form: Questionnaire) -> None:
    state, _, _ = quiz.answer(form, QuizState(), "3")
    again, outcome, _ = quiz.answer(form, state, "", quiz.button_value("activity", 0))
    assert isinstance(outcome, quiz.Invalid) and again == state
    _, ok, _ = quiz.answer(form, state, "", quiz.button_value("sharing", 1))
    assert isinstance(ok, quiz.Done) and ok.verdict.id == "v-relicense"
    assert len(quiz.button_value("x" * 100, 3).encode()) <= 64


def test_edited_questionnaire_drops_answers_that_no_longer_fit(form: Questionnaire) -> None:
    state = QuizState((("activity", 2), ("gone", 0)))
    node = quiz.current(form, state)
    assert isinstance(node, quiz.Ask) and node.question.id == "sharing"
    assert quiz.valid_answers(form, replace(state)).answers == (("activity", 2),)


# ------------------------------------------------------------ through the bot
def talk(bot: Bot, session: Session, text: str, **kw: object) -> tuple[Session, list[str], list[ReplyKind]]:
    turn = bot.handle(session, incoming(text, **kw))  # type: ignore[arg-type]
    return turn.session, [r.text for r in turn.replies], [r.kind for r in turn.replies]


def to_verdict(bot: Bot) -> Session:
    s = Session(SessionKey("test", "c1", "alice"))
    for said in ["/quiz", "3", "1", "7"]:
        s, _, kinds = talk(bot, s, said)
    assert kinds == [ReplyKind.VERDICT]
    return s


def test_verdict_says_why_what_applies_and_what_decided_it(small_bot: Bot) -> None:
    s = Session(SessionKey("test", "c1", "alice"))
    for said in ["/check", "change it", "under the ppl", "just me", "no money"]:
        turn = small_bot.handle(s, incoming(said))
        s = turn.session
    (reply,) = turn.replies
    assert reply.kind is ReplyKind.VERDICT and reply.data is not None
    assert reply.data["verdict"] == "permitted_with_conditions"
    assert reply.text.startswith("→ No: it is free")  # what the last typed answer was read as
    for part in [
        "Conditions:",
        "3(b)",
        "4(b)",
        "Because you said: changing it; under the PPL; a private person; no money",
        "back",
        "restart",
    ]:
        assert part in reply.text
    assert s.quiz is None


@pytest.mark.parametrize("name", sorted(CONTROL_WORDS))
def test_every_control_works_after_a_verdict_and_never_reaches_the_knowledge_base(small_bot: Bot, name: str) -> None:
    for said in CONTROL_WORDS[name]:
        s, texts, kinds = talk(small_bot, to_verdict(small_bot), said)
        assert ReplyKind.ANSWER not in kinds and ReplyKind.FALLBACK not in kinds and ReplyKind.SUGGEST not in kinds, (
            said
        )
        if name == "back":
            assert kinds == [ReplyKind.QUESTION] and "change that answer" in texts[0]
        elif name == "restart":
            assert "Question 1 of" in texts[0] and s.quiz is not None and s.quiz.answers == ()
        elif name in {"why", "more"}:
            assert "Why" in texts[0] and "Your answers:" in texts[0], said
        elif name == "summary":
            assert kinds == [ReplyKind.VERDICT]
        elif name == "cancel":
            assert "verdict stands" in texts[0]
        else:
            assert "questionnaire" in texts[0].lower() or "quiz" in texts[0]


@pytest.mark.parametrize("name", sorted(CONTROL_WORDS))
def test_every_control_works_during_the_questionnaire(small_bot: Bot, name: str) -> None:
    for said in CONTROL_WORDS[name]:
        s = Session(SessionKey("test", "c1", "alice"))
        s, _, _ = talk(small_bot, s, "/quiz")
        s, _, _ = talk(small_bot, s, "3")
        s, texts, kinds = talk(small_bot, s, said)
        assert ReplyKind.ANSWER not in kinds and ReplyKind.FALLBACK not in kinds, said
        if name == "cancel":
            assert s.quiz is None and "cancelled" in texts[0]
        else:
            assert s.quiz is not None and ReplyKind.QUESTION in kinds, said


def test_a_question_mid_questionnaire_is_answered_and_the_question_repeated(small_bot: Bot) -> None:
    s = Session(SessionKey("test", "c1", "alice"))
    s, _, _ = talk(small_bot, s, "/quiz")
    s, texts, kinds = talk(small_bot, s, "who wrote the peer production license?")
    assert kinds == [ReplyKind.ANSWER, ReplyKind.QUESTION] and "Kleiner" in texts[0] and "Question 1 of" in texts[1]


def test_an_unmatched_answer_gets_one_line_and_the_options_not_an_answer(small_bot: Bot) -> None:
    s = Session(SessionKey("test", "c1", "alice"))
    s, _, _ = talk(small_bot, s, "/quiz")
    s, texts, kinds = talk(small_bot, s, "my cat likes the ppl")
    assert kinds == [ReplyKind.INVALID, ReplyKind.QUESTION] and len(texts[0].split()) <= 15


def test_natural_request_offers_the_questionnaire(small_bot: Bot) -> None:
    turn = small_bot.handle(Session(SessionKey("test", "c1", "alice")), incoming("is my use permitted?"))
    (reply,) = turn.replies
    assert next(o.value for o in reply.options) == "/quiz"
    _, _, kinds = talk(small_bot, turn.session, "yes")
    assert kinds == [ReplyKind.QUESTION]


def test_expiry_after_idle_time(small_kb: KnowledgeBase) -> None:
    bot = Bot(small_kb, BotOptions(quiz_idle=timedelta(minutes=30)))
    s = Session(SessionKey("test", "c1", "alice"))
    s, _, _ = talk(bot, s, "/quiz")
    s, _, _ = talk(bot, s, "3", at=T0 + timedelta(minutes=10))
    assert s.quiz is not None and len(s.quiz.answers) == 1
    s, texts, _ = talk(bot, s, "1", at=T0 + timedelta(minutes=41))
    assert "expired after 30 minutes" in texts[0] and s.quiz is None


def test_stale_button_after_the_end(small_bot: Bot) -> None:
    turn = small_bot.handle(
        Session(SessionKey("test", "c1", "alice")), incoming("", option=quiz.button_value("activity", 0))
    )
    assert turn.replies[0].kind is ReplyKind.INVALID and "ended or expired" in turn.replies[0].text


def test_back_after_the_verdict_reopens_the_last_question_and_survives_a_restart(small_bot: Bot) -> None:
    s, texts, kinds = talk(small_bot, to_verdict(small_bot), "back")
    assert kinds == [ReplyKind.QUESTION] and "Question 3 of" in texts[0]
    s, texts, _ = talk(small_bot, s, "1")
    assert "Question 4 of" in texts[0]
    assert Session.from_json(s.key, s.to_json()) == s


def test_questionnaire_file_is_the_bundled_one() -> None:
    assert (ROOT / "knowledge" / "questionnaire.yaml").exists()
    assert Path(ROOT / "knowledge" / "README.md").exists()
