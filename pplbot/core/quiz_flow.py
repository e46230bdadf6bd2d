"""The questionnaire as a conversation: starting it, taking answers, and its controls.

Controls always win over everything else while a questionnaire runs and after its verdict:
back, why, restart, cancel, help, summary and more, in the five languages' obvious words.
They never fall through to the knowledge base. An answer that names no option gets one line
and the options again; the knowledge base answers only what is clearly a question.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from pplbot.core import questionnaire as quiz
from pplbot.core.knowledge import Questionnaire
from pplbot.core.messages import Incoming, Reply, ReplyKind
from pplbot.core.normalizing import words
from pplbot.core.quiz_views import ask_reply, detail_reply, done_reply, invalid_reply, understood_line
from pplbot.core.sessions import QuizState, Session
from pplbot.core.turns import Event, Turn

__all__ = ["CONTROL_WORDS", "QuizFlow", "control_word", "looks_like_question"]

# What people type for each control, accents removed ("zurück" is "zuruck").
CONTROL_WORDS: dict[str, tuple[str, ...]] = {
    "back": ("back", "go back", "undo", "zuruck", "zurueck", "atras", "volver", "retour", "revenir", "voltar"),
    "why": ("why", "why?", "warum", "wieso", "por que", "porque", "pourquoi", "por que"),
    "restart": (
        "restart",
        "start over",
        "start again",
        "again",
        "neustart",
        "von vorne",
        "nochmal",
        "neu starten",
        "reiniciar",
        "empezar de nuevo",
        "recommencer",
        "recomecar",
        "de novo",
        "comecar de novo",
    ),
    "cancel": (
        "cancel",
        "stop",
        "quit",
        "exit",
        "abbrechen",
        "stopp",
        "cancelar",
        "parar",
        "annuler",
        "arreter",
        "sair",
    ),
    "help": ("help", "hilfe", "ayuda", "aide", "ajuda"),
    "summary": ("summary", "resumen", "zusammenfassung", "resume", "resumo", "my answers"),
    "more": ("more", "more please", "tell me more", "details", "more details", "mas", "mehr", "plus", "mais"),
}
_CONTROL = {" ".join(words(w)): name for name, ws in CONTROL_WORDS.items() for w in ws}
_QUESTION_WORDS = frozenset(
    """what who how why when where which is are can could may does do should would
    que quien como cuando donde cual puedo puede es
    was wer wie wann wo welche ist kann darf
    quoi qui comment quand ou quel est peut
    o quem quando onde qual posso pode""".split()
)
SideAnswer = Callable[[Session, Incoming, str], "Turn | None"]


def control_word(lowered: str) -> str | None:
    """The control named by a message of cleaned words ("zuruck" -> "back"), or None."""
    return _CONTROL.get(lowered)


def looks_like_question(text: str) -> bool:
    """True for a message that is clearly a question rather than an answer to an option."""
    tokens = words(text)
    return text.rstrip().endswith("?") or (len(tokens) >= 4 and tokens[0] in _QUESTION_WORDS)


class QuizFlow:
    """Questionnaire steps for the bot; `side` answers a question asked mid-questionnaire."""

    def __init__(self, form: Questionnaire | None, side: SideAnswer) -> None:
        self.form = form
        self._side = side

    def _info(self, text: str, incoming: Incoming) -> Reply:
        return Reply(text, ReplyKind.INFO, reply_to=incoming.message_id)

    def start(self, session: Session, incoming: Incoming) -> Turn:
        if self.form is None:
            return Turn(session, (self._info("The questionnaire is not available right now.", incoming),))
        state = QuizState((), incoming.received_at)
        node = quiz.current(self.form, state)
        assert isinstance(node, quiz.Ask)
        intro = f"**{self.form.title}** — at most {self.form.depth} questions.\n\n"
        return Turn(
            replace(session, quiz=state, finished=()),
            (ask_reply(node, incoming.message_id, prefix=intro),),
            (Event("quiz_started"),),
        )

    # ------------------------------------------------------------------ controls
    def control(self, session: Session, incoming: Incoming, name: str) -> Turn:
        """back / why / restart / cancel / summary / more, during a questionnaire or after its verdict."""
        form = self.form
        if name == "restart":
            return self.start(session, incoming)
        if form is None or (session.quiz is None and not session.finished):
            if name == "cancel":
                return Turn(
                    session,
                    (self._info("There is nothing to cancel. Type [[quiz]] to start the questionnaire.", incoming),),
                )
            return Turn(session, (self._info("No questionnaire is running. Type [[quiz]] to start one.", incoming),))
        if session.quiz is None:
            return self._after_verdict(session, incoming, name, form)
        state = quiz.valid_answers(form, session.quiz)
        node = quiz.current(form, state)
        assert isinstance(node, quiz.Ask)
        reply_to = incoming.message_id
        if name == "cancel":
            return Turn(
                replace(session, quiz=None),
                (self._info("Questionnaire cancelled. Type [[quiz]] to start again.", incoming),),
                (Event("quiz_cancelled"),),
            )
        if name == "back":
            if not state.answers:
                return Turn(session, (ask_reply(node, reply_to, prefix="This is the first question. "),))
            state = quiz.back(form, state)
            node = quiz.current(form, state)
            assert isinstance(node, quiz.Ask)
            return Turn(replace(session, quiz=state), (ask_reply(node, reply_to),))
        if name in {"summary", "more"}:
            said = _answers_so_far(form, state) or "No answers yet."
            return Turn(session, (ask_reply(node, reply_to, prefix=f"**Your answers so far:**\n{said}\n\n"),))
        return Turn(session, (ask_reply(node, reply_to, prefix=f"_Why I ask:_ {node.question.why}\n\n"),))

    def _after_verdict(self, session: Session, incoming: Incoming, name: str, form: Questionnaire) -> Turn:
        done = quiz.current(form, QuizState(session.finished))
        reply_to = incoming.message_id
        if not isinstance(done, quiz.Done):  # the questionnaire changed since: start afresh
            return self.start(session, incoming)
        if name == "back":
            state = quiz.back(form, QuizState(session.finished, incoming.received_at))
            node = quiz.current(form, state)
            assert isinstance(node, quiz.Ask)
            reopened = replace(session, quiz=state, finished=())
            return Turn(reopened, (ask_reply(node, reply_to, prefix="Let's change that answer. "),))
        if name in {"why", "more"}:
            return Turn(session, (detail_reply(form, done, reply_to),))
        if name == "summary":
            return Turn(session, (done_reply(done, reply_to),))
        return Turn(
            session,
            (
                self._info(
                    "The questionnaire has ended; its verdict stands. Type [[quiz]] to start a new one.", incoming
                ),
            ),
        )

    # ------------------------------------------------------------------ answers
    def button(self, session: Session, incoming: Incoming) -> Turn:
        if session.quiz is None or self.form is None:
            reply = Reply(
                "This questionnaire has already ended or expired. Type [[quiz]] to start a new one.",
                ReplyKind.INVALID,
                reply_to=incoming.message_id,
                data={"type": "invalid", "text": "stale"},
            )
            return Turn(session, (reply,))
        return self.answer(session, incoming, "", incoming.option)

    def answer(self, session: Session, incoming: Incoming, text: str, option: str | None = None) -> Turn:
        form = self.form
        assert session.quiz is not None and form is not None
        reply_to = incoming.message_id
        state, outcome, understood = quiz.answer(form, session.quiz, text, option)
        if isinstance(outcome, quiz.Invalid):
            if option is None and looks_like_question(text):
                side = self._side(session, incoming, text)
                if side is not None:
                    return side
            return Turn(replace(session, quiz=state), invalid_reply(outcome, reply_to))
        prefix = understood_line(understood) + "\n\n" if understood is not None else ""
        if isinstance(outcome, quiz.Done):
            return Turn(
                replace(session, quiz=None, finished=state.answers, last_entry=None),
                (done_reply(outcome, reply_to, prefix=prefix),),
                (Event("verdict", outcome.verdict.kind.value),),
            )
        return Turn(replace(session, quiz=state), (ask_reply(outcome, reply_to, prefix=prefix),))

    def current_ask(self, session: Session) -> quiz.Ask | None:
        if session.quiz is None or self.form is None:
            return None
        node = quiz.current(self.form, session.quiz)
        return node if isinstance(node, quiz.Ask) else None


def _answers_so_far(form: Questionnaire, state: QuizState) -> str:
    lines = []
    for qid, index in state.answers:
        question = form.questions.get(qid)
        if question is not None and 0 <= index < len(question.options):
            lines.append(f"• {question.text} → {question.options[index].label}")
    return "\n".join(lines)
