"""The chat core: one entry point, `Bot.handle(session, incoming) -> Turn`.

Routing, in a fixed order: questionnaire expiry -> button presses -> commands -> the active
questionnaire step -> a number picking an offered option -> small talk -> the knowledge base
(answer / "did you mean" / fallback). Nothing here touches the network, disk or clock.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Protocol

from pplbot.core import texts
from pplbot.core.commands import parse_command
from pplbot.core.knowledge import Entry, KnowledgeBase
from pplbot.core.matching import Candidate, Match, Matcher, MatchKind, Thresholds
from pplbot.core.messages import Incoming, Option, Reply, ReplyKind
from pplbot.core.normalizing import Normalizer, words
from pplbot.core.questionnaire import parse_button
from pplbot.core.quiz_flow import QuizFlow, control_word
from pplbot.core.quiz_views import ask_reply
from pplbot.core.semantic import Embedder
from pplbot.core.sessions import Session
from pplbot.core.smalltalk import smalltalk
from pplbot.core.turns import Event, Turn

__all__ = ["Bot", "BotOptions", "Event", "Turn"]

QUIZ_ENTRY = "questionnaire"
_BARE_COMMANDS = frozenset({"help", "quiz", "about", "sources"})
OFF_TOPIC = "off-topic"  # entries with this tag describe what the bot does not answer
MAX_TEXT = 4000
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True, slots=True)
class BotOptions:
    quiz_idle: timedelta = timedelta(minutes=30)
    detail_on_request: bool = True  # long answers show their `more` part on request (False: at once)
    thresholds: Thresholds = field(default_factory=Thresholds)
    embedder: Embedder | None = None  # the semantic signal (pplbot.embedding.load_embedder())


class QuestionMatcher(Protocol):
    """What the bot needs of a matcher (the current one, or an old one under benchmark)."""

    @property
    def phrase_count(self) -> int: ...
    def match(self, text: str) -> Match: ...
    def explain(self, text: str) -> list[Candidate]: ...


MatcherFactory = Callable[[list[Entry]], QuestionMatcher]


class Bot:
    def __init__(
        self, kb: KnowledgeBase, options: BotOptions | None = None, matcher: MatcherFactory | None = None
    ) -> None:
        self.kb = kb
        self.options = options or BotOptions()
        entries = list(kb.entries)
        if kb.questionnaire is not None and kb.questionnaire.triggers:
            entries.append(Entry(QUIZ_ENTRY, kb.questionnaire.triggers, "questionnaire", ("PPL 4",)))
        self.quiz = QuizFlow(kb.questionnaire, self._side_question)
        if matcher is not None:
            self.matcher: QuestionMatcher = matcher(entries)
        else:
            self.matcher = Matcher(entries, Normalizer(kb.vocabulary), self.options.embedder, self.options.thresholds)

    # ----------------------------------------------------------------- entry point
    def handle(self, session: Session, incoming: Incoming) -> Turn:
        now = incoming.received_at
        text = _CONTROL.sub(" ", incoming.text)[:MAX_TEXT].strip()
        replies: list[Reply] = []
        if session.expired(now, self.options.quiz_idle):
            minutes = int(self.options.quiz_idle.total_seconds() // 60)
            replies.append(
                Reply(
                    f"Your questionnaire expired after {minutes} minutes without an answer. Type [[quiz]] to start again.",
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
            if parse_button(incoming.option) is not None:
                return self.quiz.button(session, incoming)
            text = incoming.option
        if not text:
            return Turn(
                session,
                (self._info("Ask me a question about the Peer Production License, or type [[help]].", incoming),),
            )
        command = parse_command(text)
        if command is not None:
            return self._command(session, incoming, command.name, command.args)
        lowered = " ".join(words(text))
        if lowered in _BARE_COMMANDS:  # "help", "quiz": how the hints read in the terminal
            return self._command(session, incoming, lowered, "")
        control = control_word(lowered)
        if control is not None and (session.quiz is not None or session.finished):
            return self._command(session, incoming, control, "")
        if session.quiz is not None:
            return self.quiz.answer(session, incoming, text)
        if control == "more" and session.last_entry:
            return self._more(session, incoming)
        picked = self._picked_option(session, lowered)
        if picked is not None:
            return self._route(replace(session, offered=()), replace(incoming, option=None), picked)
        small = smalltalk(lowered)
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
            node = self.quiz.current_ask(session)
            if node is not None:
                replies.append(ask_reply(node, reply_to, prefix="Back to the questionnaire. "))
            return Turn(session, tuple(replies))
        if name == "start":
            if args.strip().lower() in {"quiz", "check", "questionnaire"}:
                return self.quiz.start(session, incoming)
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
                            "What would you like to know? For example: [[ask can a co-op sell PPL works?]]", incoming
                        ),
                    ),
                )
            return self._ask(session, incoming, args)
        if name in {"quiz", "check", "questionnaire"}:
            return self.quiz.start(session, incoming)
        if name == "entry":
            entry = self.kb.by_id.get(args.strip())
            if entry is None:
                return Turn(
                    session, (self._info("That suggestion is no longer available. Please ask again.", incoming),)
                )
            return self._answer_entry(session, incoming, entry, None, "")
        if name == "more" and session.quiz is None and not session.finished:
            return self._more(session, incoming)
        if name in {"back", "restart", "why", "cancel", "summary", "more"}:
            return self.quiz.control(session, incoming, name)
        return Turn(
            session,
            (
                Reply(
                    f"I don't know the command [[{name}]]. Type [[help]] to see what I can do.",
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
            body += "\n\n_Say [[more]] for details._"
        body += "\n\n" + texts.source_line(entry.sources)
        reply = Reply(body, ReplyKind.ANSWER, reply_to=incoming.message_id, entry_id=entry.id, score=score)
        # "more" and "back" now refer to this answer, not to an earlier verdict
        return Turn(replace(session, last_entry=entry.id, finished=()), (reply,), (Event("answered", entry.id),))

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

    def _side_question(self, session: Session, incoming: Incoming, text: str) -> Turn | None:
        """A knowledge-base answer to a question asked mid-questionnaire, then the question again."""
        side = self.matcher.match(text)
        node = self.quiz.current_ask(session)
        if side.kind is not MatchKind.ANSWER or side.best is None or side.best.entry.id == QUIZ_ENTRY or node is None:
            return None
        if OFF_TOPIC in side.best.entry.tags:
            return None
        answered = self._answer_entry(session, incoming, side.best.entry, side.best.score, text)
        again = ask_reply(node, incoming.message_id, prefix="Back to the questionnaire. ")
        return Turn(replace(answered.session, quiz=session.quiz), (*answered.replies, again), answered.events)
