"""The chat core: one entry point, `Bot.handle(session, incoming) -> Turn`.

Routing, in a fixed order: questionnaire expiry -> button presses -> commands -> the active
questionnaire step -> a number picking an offered option -> small talk -> the knowledge base
(answer / "did you mean" / fallback). Nothing here touches the network, disk or clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import timedelta

from pplbot.core import questionnaire as quiz
from pplbot.core import texts
from pplbot.core.commands import parse_command
from pplbot.core.knowledge import Entry, KnowledgeBase
from pplbot.core.matching import Match, Matcher, MatchKind, Thresholds
from pplbot.core.messages import Incoming, Option, Reply, ReplyKind
from pplbot.core.normalizing import words
from pplbot.core.quiz_views import ask_reply, done_reply, invalid_reply
from pplbot.core.sessions import QuizState, Session

__all__ = ["Bot", "BotOptions", "Event", "Turn"]

QUIZ_ENTRY = "questionnaire"
OFF_TOPIC = "off-topic"  # entries with this tag describe what the bot does not answer
MAX_TEXT = 4000
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_GREET = frozenset(
    [
        "hi",
        "hello",
        "hey",
        "hiya",
        "howdy",
        "hola",
        "hallo",
        "moin",
        "servus",
        "bonjour",
        "salut",
        "ola",
        "oi",
        "ciao",
        "yo",
        "greetings",
    ]
)
_THANK = frozenset(
    [
        "thanks",
        "thank",
        "thx",
        "ty",
        "thankyou",
        "cheers",
        "gracias",
        "danke",
        "merci",
        "obrigado",
        "obrigada",
        "grazie",
    ]
)
_BYE = frozenset(["bye", "goodbye", "cya", "tschuss", "adios", "adieu", "tchau"])
_FILLER = frozenset(
    [
        "there",
        "bot",
        "pplbot",
        "everyone",
        "all",
        "a",
        "lot",
        "so",
        "much",
        "you",
        "very",
        "guys",
        "folks",
        "again",
        "morning",
        "evening",
        "afternoon",
        "good",
        "day",
        "de",
        "nada",
        "muchas",
        "vielen",
        "dank",
        "beaucoup",
        "muito",
        "people",
        "team",
        "friends",
        "and",
        "for",
        "the",
        "help",
    ]
)
_MORE = frozenset({"more", "more please", "tell me more", "details", "more details", "detail"})
_QUIZ_WORDS = {"back": "back", "restart": "restart", "why": "why", "cancel": "cancel", "stop": "cancel"}


@dataclass(frozen=True, slots=True)
class Event:
    """Something worth recording: an outcome for statistics or an unanswered question."""

    kind: str  # answered | suggested | fallback | smalltalk | quiz_started | verdict | unanswered | command
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Turn:
    session: Session
    replies: tuple[Reply, ...]
    events: tuple[Event, ...] = ()


@dataclass(frozen=True, slots=True)
class BotOptions:
    quiz_idle: timedelta = timedelta(minutes=30)
    detail_on_request: bool = False  # True: long answers show "more" on request
    thresholds: Thresholds = field(default_factory=Thresholds)


class Bot:
    def __init__(self, kb: KnowledgeBase, options: BotOptions | None = None) -> None:
        self.kb = kb
        self.options = options or BotOptions()
        entries = list(kb.entries)
        if kb.questionnaire is not None and kb.questionnaire.triggers:
            entries.append(Entry(QUIZ_ENTRY, kb.questionnaire.triggers, "questionnaire", ("PPL 4",)))
        self.matcher = Matcher(entries, self.options.thresholds)

    # ----------------------------------------------------------------- entry point
    def handle(self, session: Session, incoming: Incoming) -> Turn:
        now = incoming.received_at
        text = _CONTROL.sub(" ", incoming.text)[:MAX_TEXT].strip()
        replies: list[Reply] = []
        if session.expired(now, self.options.quiz_idle):
            minutes = int(self.options.quiz_idle.total_seconds() // 60)
            replies.append(
                Reply(
                    f"Your questionnaire expired after {minutes} minutes without an answer. Type /quiz to start again.",
                    reply_to=incoming.message_id,
                )
            )
            session = replace(session, quiz=None)
        turn = self._route(session, incoming, text)
        new_session = turn.session.touch(now)
        offered = next((tuple(o.value for o in r.options) for r in reversed(turn.replies) if r.options), None)
        if offered is not None or turn.replies:
            new_session = replace(new_session, offered=offered or ())
        return Turn(new_session, (*replies, *turn.replies), turn.events)

    def _route(self, session: Session, incoming: Incoming, text: str) -> Turn:
        if incoming.option is not None:
            if quiz.parse_button(incoming.option) is not None:
                return self._quiz_button(session, incoming)
            text = incoming.option
        if not text:
            return Turn(
                session, (self._info("Ask me a question about the Peer Production License, or type /help.", incoming),)
            )
        command = parse_command(text)
        if command is not None:
            return self._command(session, incoming, command.name, command.args)
        lowered = " ".join(words(text))
        if session.quiz is not None:
            if lowered in _QUIZ_WORDS:
                return self._command(session, incoming, _QUIZ_WORDS[lowered], "")
            if lowered == "help":
                return self._command(session, incoming, "help", "")
            return self._quiz_answer(session, incoming, text)
        if lowered == "back" and session.finished:
            return self._quiz_control(session, incoming, "back")
        if lowered in _MORE and session.last_entry:
            return self._more(session, incoming)
        picked = self._picked_option(session, lowered)
        if picked is not None:
            return self._route(replace(session, offered=()), replace(incoming, option=None), picked)
        small = self._smalltalk(lowered)
        if small is not None:
            return Turn(
                session, (Reply(small, ReplyKind.SMALLTALK, reply_to=incoming.message_id),), (Event("smalltalk"),)
            )
        return self._ask(session, incoming, text)

    # ----------------------------------------------------------------- commands
    def _command(self, session: Session, incoming: Incoming, name: str, args: str) -> Turn:
        reply_to = incoming.message_id
        if name in {"help", "h"}:
            replies = [self._info(texts.HELP, incoming)]
            if session.quiz is not None and self.kb.questionnaire is not None:
                node = quiz.current(self.kb.questionnaire, session.quiz)
                if isinstance(node, quiz.Ask):
                    replies.append(ask_reply(node, reply_to, prefix="Back to the questionnaire. "))
            return Turn(session, tuple(replies))
        if name == "start":
            if args.strip().lower() in {"quiz", "check", "questionnaire"}:
                return self._quiz_start(session, incoming)
            return Turn(session, (self._info(texts.GREETING + "\n\n" + texts.HELP, incoming),))
        if name == "about":
            return Turn(session, (self._info(texts.ABOUT, incoming),))
        if name == "sources":
            return Turn(session, (self._info(texts.SOURCES, incoming),))
        if name in {"ask", "ppl", "q"}:
            if not args:
                return Turn(
                    session,
                    (
                        self._info(
                            "What would you like to know? For example: /ask can a co-op sell PPL works?", incoming
                        ),
                    ),
                )
            return self._ask(session, incoming, args)
        if name in {"quiz", "check", "questionnaire"}:
            return self._quiz_start(session, incoming)
        if name == "entry":
            entry = self.kb.by_id.get(args.strip())
            if entry is None:
                return Turn(
                    session, (self._info("That suggestion is no longer available. Please ask again.", incoming),)
                )
            return self._answer_entry(session, incoming, entry, None, "")
        if name == "more":
            return self._more(session, incoming)
        if name in {"back", "restart", "why", "cancel"}:
            return self._quiz_control(session, incoming, name)
        return Turn(
            session,
            (
                Reply(
                    f"I don't know the command /{name}. Type /help to see what I can do.",
                    ReplyKind.INFO,
                    reply_to=reply_to,
                ),
            ),
        )

    def _info(self, text: str, incoming: Incoming) -> Reply:
        return Reply(text, ReplyKind.INFO, reply_to=incoming.message_id)

    # ----------------------------------------------------------------- knowledge base
    def _ask(self, session: Session, incoming: Incoming, text: str) -> Turn:
        match = self.matcher.match(text)
        best = match.best
        if best is not None and OFF_TOPIC in best.entry.tags and match.kind is not MatchKind.NONE:
            reply = Reply(best.entry.answer, ReplyKind.FALLBACK, reply_to=incoming.message_id, score=best.score)
            return Turn(session, (reply,), (Event("fallback"),))
        if match.kind is MatchKind.ANSWER and best is not None:
            if best.entry.id == QUIZ_ENTRY:
                return self._offer_quiz(session, incoming)
            return self._answer_entry(session, incoming, best.entry, best.score, text)
        if match.kind is MatchKind.SUGGEST:
            return self._suggest(session, incoming, match, text)
        reply = Reply(
            texts.FALLBACK, ReplyKind.FALLBACK, reply_to=incoming.message_id, score=best.score if best else None
        )
        return Turn(session, (reply,), (Event("fallback"), Event("unanswered", text)))

    def _answer_entry(self, session: Session, incoming: Incoming, entry: Entry, score: float | None, text: str) -> Turn:
        body = entry.answer
        if entry.more and not self.options.detail_on_request:
            body += "\n\n" + entry.more
        elif entry.more:
            body += "\n\n_Say **more** for details._"
        body += "\n\n" + texts.source_line(entry.sources)
        reply = Reply(body, ReplyKind.ANSWER, reply_to=incoming.message_id, entry_id=entry.id, score=score)
        return Turn(replace(session, last_entry=entry.id), (reply,), (Event("answered", entry.id),))

    def _more(self, session: Session, incoming: Incoming) -> Turn:
        entry = self.kb.by_id.get(session.last_entry or "")
        if entry is None or not entry.more:
            return Turn(session, (self._info("There are no more details. Ask me another question!", incoming),))
        reply = Reply(
            entry.more + "\n\n" + texts.source_line(entry.sources),
            ReplyKind.ANSWER,
            reply_to=incoming.message_id,
            entry_id=entry.id,
        )
        return Turn(session, (reply,))

    def _suggest(self, session: Session, incoming: Incoming, match: Match, text: str) -> Turn:
        candidates = [c for c in match.candidates if OFF_TOPIC not in c.entry.tags]
        if not candidates:
            reply = Reply(
                texts.FALLBACK, ReplyKind.FALLBACK, reply_to=incoming.message_id, score=match.candidates[0].score
            )
            return Turn(session, (reply,), (Event("fallback"), Event("unanswered", text)))
        options = []
        for candidate in candidates:
            if candidate.entry.id == QUIZ_ENTRY:
                options.append(Option("Check whether my use is permitted (questionnaire)", "/quiz"))
            else:
                options.append(Option(candidate.entry.questions[0], f"/entry {candidate.entry.id}"))
        reply = Reply(
            "I'm not sure I understood. Did you mean one of these? Reply with a number, or ask in other words.",
            ReplyKind.SUGGEST,
            tuple(options),
            incoming.message_id,
            suggestions=tuple(c.entry.id for c in candidates),
            score=candidates[0].score,
        )
        return Turn(session, (reply,), (Event("suggested"), Event("unanswered", text)))

    def _picked_option(self, session: Session, lowered: str) -> str | None:
        if not session.offered:
            return None
        if lowered.isdigit() and 1 <= int(lowered) <= len(session.offered):
            return session.offered[int(lowered) - 1]
        tokens = lowered.split()
        if (
            "/quiz" in session.offered
            and tokens
            and len(tokens) <= 3
            and tokens[0] in {"yes", "y", "yeah", "yep", "sure", "ok", "okay", "si", "ja", "oui", "sim"}
        ):
            return "/quiz"
        return None

    def _smalltalk(self, lowered: str) -> str | None:
        tokens = lowered.split()
        if not tokens or len(tokens) > 6:
            return None
        rest = [t for t in tokens if t not in _FILLER]
        if not rest or not all(t in _GREET | _THANK | _BYE for t in rest):
            return None
        if any(t in _THANK for t in rest):
            return texts.THANKS
        if any(t in _BYE for t in rest):
            return texts.BYE
        return texts.GREETING

    # ----------------------------------------------------------------- questionnaire
    def _offer_quiz(self, session: Session, incoming: Incoming) -> Turn:
        reply = Reply(
            "I can walk you through a few questions that end in a verdict on your use of the PPL work, citing the licence. Start now?",
            ReplyKind.INFO,
            (
                Option("Yes, start the questionnaire", "/quiz"),
                Option("No, thanks", "/entry ppl-what-is" if "ppl-what-is" in self.kb.by_id else "/help"),
            ),
            incoming.message_id,
        )
        return Turn(session, (reply,), (Event("quiz_offered"),))

    def _quiz_start(self, session: Session, incoming: Incoming) -> Turn:
        form = self.kb.questionnaire
        if form is None:
            return Turn(session, (self._info("The questionnaire is not available right now.", incoming),))
        state = QuizState((), incoming.received_at)
        node = quiz.current(form, state)
        assert isinstance(node, quiz.Ask)
        intro = f"**{form.title}** — at most {form.depth} questions.\n\n"
        return Turn(
            replace(session, quiz=state, finished=()),
            (ask_reply(node, incoming.message_id, prefix=intro),),
            (Event("quiz_started"),),
        )

    def _quiz_control(self, session: Session, incoming: Incoming, name: str) -> Turn:
        form = self.kb.questionnaire
        if session.quiz is None and form is not None and name == "back" and session.finished:
            # changing the last answer right after a verdict reopens the questionnaire
            state = quiz.back(form, QuizState(session.finished, incoming.received_at))
            node = quiz.current(form, state)
            assert isinstance(node, quiz.Ask)
            reopened = replace(session, quiz=state, finished=())
            return Turn(reopened, (ask_reply(node, incoming.message_id, prefix="Let's change that answer. "),))
        if session.quiz is None or form is None:
            if name == "cancel":
                return Turn(
                    session,
                    (self._info("There is nothing to cancel. Type /quiz to start the questionnaire.", incoming),),
                )
            return Turn(session, (self._info("No questionnaire is running. Type /quiz to start one.", incoming),))
        if name == "cancel":
            return Turn(
                replace(session, quiz=None),
                (self._info("Questionnaire cancelled. Type /quiz to start again.", incoming),),
                (Event("quiz_cancelled"),),
            )
        if name == "restart":
            return self._quiz_start(session, incoming)
        state = session.quiz
        if name == "back":
            if not quiz.valid_answers(form, state).answers:
                node = quiz.current(form, state)
                assert isinstance(node, quiz.Ask)
                return Turn(session, (ask_reply(node, incoming.message_id, prefix="This is the first question. "),))
            state = quiz.back(form, state)
        node = quiz.current(form, state)
        assert isinstance(node, quiz.Ask)
        prefix = f"_Why I ask:_ {node.question.why}\n\n" if name == "why" else ""
        return Turn(replace(session, quiz=state), (ask_reply(node, incoming.message_id, prefix=prefix),))

    def _quiz_button(self, session: Session, incoming: Incoming) -> Turn:
        if session.quiz is None or self.kb.questionnaire is None:
            reply = Reply(
                "This questionnaire has already ended or expired. Type /quiz to start a new one.",
                ReplyKind.INVALID,
                reply_to=incoming.message_id,
                data={"type": "invalid", "text": "stale"},
            )
            return Turn(session, (reply,))
        return self._quiz_answer(session, incoming, "", incoming.option)

    def _side_question(self, session: Session, incoming: Incoming, text: str) -> Turn | None:
        """A knowledge-base answer to a question asked mid-questionnaire, then the question again."""
        assert session.quiz is not None and self.kb.questionnaire is not None
        side = self.matcher.match(text)
        if side.kind is not MatchKind.ANSWER or side.best is None or side.best.entry.id == QUIZ_ENTRY:
            return None
        node = quiz.current(self.kb.questionnaire, session.quiz)
        if not isinstance(node, quiz.Ask):
            return None
        answered = self._answer_entry(session, incoming, side.best.entry, side.best.score, text)
        again = ask_reply(node, incoming.message_id, prefix="Back to the questionnaire. ")
        return Turn(replace(answered.session, quiz=session.quiz), (*answered.replies, again), answered.events)

    def _quiz_answer(self, session: Session, incoming: Incoming, text: str, option: str | None = None) -> Turn:
        form = self.kb.questionnaire
        assert session.quiz is not None and form is not None
        reply_to = incoming.message_id
        if option is None and text.rstrip().endswith("?"):
            side = self._side_question(session, incoming, text)
            if side is not None:
                return side
        state, outcome = quiz.answer(form, session.quiz, text, option)
        if isinstance(outcome, quiz.Invalid):
            side = self._side_question(session, incoming, text) if option is None else None
            if side is not None:
                return side
            return Turn(replace(session, quiz=state), invalid_reply(outcome, reply_to))
        if isinstance(outcome, quiz.Done):
            return Turn(
                replace(session, quiz=None, finished=state.answers),
                (done_reply(form, outcome, reply_to),),
                (Event("verdict", outcome.verdict.kind.value),),
            )
        return Turn(replace(session, quiz=state), (ask_reply(outcome, reply_to),))
