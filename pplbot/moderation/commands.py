"""`kb ...` commands for moderators, on every network. Non-moderators get a polite refusal.

kb show ID | kb search TEXT | kb teach ID QUESTION (or #N from kb unanswered)
kb answer ID <new text on the next lines> | kb add ID <question line> <answer lines> <Source: ...>
kb remove ID | kb undo | kb history [ID] | kb unanswered | kb purge-unanswered | kb stats | kb reload
kb web (a one-time sign-in link for the moderators' web page, in a direct message only)

The editing operations are public (`teach`, `update`, `add`, `undo`) so that the web page edits
through the same code: round-trip YAML, validation, atomic write, audit record, hot reload.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from pplbot.core.bot import Bot
from pplbot.core.messages import ChatKind, Incoming, Reply, ReplyKind
from pplbot.core.texts import source_line
from pplbot.errors import StoreError
from pplbot.moderation.editing import Edited, EditError, KnowledgeEditor
from pplbot.moderation.live import LiveKnowledge
from pplbot.moderation.unanswered import group_questions
from pplbot.store.base import AuditRecord, Store

__all__ = ["Actor", "Moderation"]

logger = logging.getLogger(__name__)

USAGE = """Moderator commands:
kb show ID · kb search TEXT · kb teach ID QUESTION (or kb teach ID #N)
kb answer ID, then the new answer on the next lines
kb add ID, then the question on the next line, the answer, and a last line "Source: PPL 4(c)"
kb remove ID · kb undo · kb history [ID] · kb unanswered · kb purge-unanswered · kb stats · kb reload
kb web (in a direct message: a sign-in link for the moderators' web page)"""
_UNANSWERED_LIST = "kb:unanswered"
_WEB_IN_GROUP = (
    "I send sign-in links for the moderators' page only in a direct message, so nobody else can use them. "
    "Send me kb web in a direct chat."
)
_WEB_OFF = "The moderators' web page is not enabled here (set PPLBOT_HTTP_LISTEN, see the README)."


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes an edit, as the audit table records it: "Name [network id]" and the network."""

    who: str
    network: str
    at: datetime

    @staticmethod
    def of(incoming: Incoming) -> Actor:
        return Actor(f"{incoming.user_name or incoming.user} [{incoming.user}]", incoming.network, incoming.received_at)


LinkIssuer = Callable[[str, str], str]  # (who, network) -> a one-time sign-in URL


class Moderation:
    def __init__(self, live: LiveKnowledge, store: Store, unanswered_days: int = 90) -> None:
        self.live = live
        self.store = store
        self.unanswered_days = unanswered_days
        self._bot: Bot | None = None  # the running bot, set by each handle()
        self.web_link: LinkIssuer | None = None  # set when the web page is served

    def handle(self, incoming: Incoming, args: str, bot: Bot) -> list[Reply]:
        """Run one kb command; `bot` is the running bot, so kb search shows the scores it uses."""
        self._bot = bot

        def say(text: str, kind: ReplyKind = ReplyKind.INFO) -> list[Reply]:
            return [Reply(text, kind, reply_to=incoming.message_id)]

        if not incoming.is_moderator:
            logger.warning("refused kb command from a non-moderator on %s (%s)", incoming.network, incoming.chat)
            return say("Sorry, only moderators can use kb commands. Ask one of your community's moderators.")
        head, _, rest = args.partition("\n")
        name, _, arg = head.strip().partition(" ")
        arg = arg.strip()
        try:
            handler = {
                "show": self._show,
                "search": self._search,
                "teach": self._teach,
                "answer": self._answer,
                "add": self._add,
                "remove": self._remove,
                "undo": self._undo,
                "history": self._history,
                "unanswered": self._unanswered,
                "purge-unanswered": self._purge,
                "stats": self._stats,
                "reload": self._reload,
                "web": self._web,
            }.get(name.lower())
            if handler is None:
                return say(USAGE)
            return say(handler(incoming, arg, rest.strip()))
        except EditError as exc:
            return say(f"Not saved: {exc}", ReplyKind.ERROR)
        except StoreError as exc:
            logger.error("kb %s: %s", name, exc)
            return say(
                "The state store is unavailable right now, so I cannot do that. Please try again later.",
                ReplyKind.ERROR,
            )

    # ------------------------------------------------------------ reading
    def _show(self, incoming: Incoming, arg: str, rest: str) -> str:
        entry = self.live.current.kb.by_id.get(arg)
        if entry is None:
            return f"There is no entry {arg!r}. Try kb search with some words."
        lines = [f"**{entry.id}** ({entry.file}:{entry.line})", "Questions:"]
        lines += [f"• {q}" for q in entry.questions]
        lines += ["Answer:", entry.answer]
        if entry.more:
            lines += ["More:", entry.more]
        lines.append(source_line(entry.sources))
        if entry.related:
            lines.append("Related: " + ", ".join(entry.related))
        return "\n".join(lines)

    def _search(self, incoming: Incoming, arg: str, rest: str) -> str:
        text = " ".join(filter(None, [arg, rest]))
        if not text:
            return "Usage: kb search TEXT"
        bot = self._bot
        assert bot is not None
        match = bot.matcher.match(text)
        candidates = bot.matcher.explain(text)[:5]
        if not candidates:
            return f"No entry shares words with {text!r}: it would get the fallback."
        lines = [f"For {text!r} I would: {match.kind.value}"]
        lines += [f"{c.score:5.1f}  {c.entry.id} — matching phrase: {c.phrase}" for c in candidates]
        return "\n".join(lines)

    def _history(self, incoming: Incoming, arg: str, rest: str) -> str:
        records = self.store.audit(arg or None, limit=10)
        if not records:
            return "No edits recorded" + (f" for {arg}." if arg else ".")
        return "\n".join(
            f"#{r.id} {r.at:%Y-%m-%d %H:%M} {r.who} ({r.network}) {r.action} {r.entry} in {r.file}" for r in records
        )

    def _unanswered(self, incoming: Incoming, arg: str, rest: str) -> str:
        self._expire_unanswered(incoming)
        since = incoming.received_at - timedelta(days=self.unanswered_days)
        groups = group_questions(self.store.events("unanswered", since=since))
        self.store.set_value(_UNANSWERED_LIST, json.dumps([g.text for g in groups], ensure_ascii=False))
        if not groups:
            return "No unanswered questions recorded. 🎉"
        lines = ["Most frequent questions I could not answer (teach one with kb teach ID #N):"]
        lines += [
            f"#{i} ({g.count}×, {len(g.chats)} chat{'s' if len(g.chats) > 1 else ''}) {g.text}"
            for i, g in enumerate(groups, 1)
        ]
        return "\n".join(lines)

    def _purge(self, incoming: Incoming, arg: str, rest: str) -> str:
        removed = self.store.delete_events("unanswered")
        self.store.set_value(_UNANSWERED_LIST, "[]")
        return f"Deleted {removed} unanswered question(s) from the log."

    def _expire_unanswered(self, incoming: Incoming) -> None:
        self.store.delete_events("unanswered", before=incoming.received_at - timedelta(days=self.unanswered_days))

    def _stats(self, incoming: Incoming, arg: str, rest: str) -> str:
        kb = self.live.current.kb
        counts = Counter(e.kind for e in self.store.events())
        verdicts = Counter(e.detail for e in self.store.events("verdict"))
        asked = counts["answered"] + counts["suggested"] + counts["fallback"]

        def rate(n: int) -> str:
            return f"{n} ({n / asked:.0%})" if asked else "0"

        lines = [
            f"Knowledge base version {kb.version}: {len(kb.entries)} entries, {kb.phrase_count} phrases"
            + (f" (last reload failed: {len(self.live.last_error.issues)} problem(s))" if self.live.last_error else ""),
            f"Questions asked: {asked} — answered {rate(counts['answered'])}, suggested {rate(counts['suggested'])}, "
            f"fallback {rate(counts['fallback'])}",
            f"Questionnaires started: {counts['quiz_started']}, finished: {sum(verdicts.values())}",
        ]
        if verdicts:
            lines.append("Verdicts: " + ", ".join(f"{k} {v}" for k, v in verdicts.most_common()))
        return "\n".join(lines)

    def _reload(self, incoming: Incoming, arg: str, rest: str) -> str:
        error = self.live.reload()
        if error is not None:
            problems = "\n".join(str(i) for i in error.issues[:20])
            return f"Reload failed; still serving version {self.live.current.kb.version}.\n{problems}"
        kb = self.live.current.kb
        return f"Reloaded: version {kb.version}, {len(kb.entries)} entries, {kb.phrase_count} phrases."

    # ------------------------------------------------------------ editing
    def _editor(self) -> KnowledgeEditor:
        return KnowledgeEditor(self.live.current)

    def _saved(self, actor: Actor, action: str, entry: str, edited: Edited) -> int:
        """Serve the edited knowledge base from now on and record the edit; returns the audit id."""
        self.live.adopt(edited.loaded)
        record = self.store.add_audit(
            AuditRecord(actor.at, actor.who, actor.network, action, entry, edited.file, edited.before, edited.after)
        )
        logger.info("kb %s %s by %s on %s", action, entry, actor.who, actor.network)
        return record

    # the operations, shared by chat commands and the web page
    def teach(self, actor: Actor, entry_id: str, question: str) -> Edited:
        edited = self._editor().teach(entry_id, question)
        self._saved(actor, "teach", entry_id, edited)
        return edited

    def update(
        self, actor: Actor, entry_id: str, *, questions: list[str], answer: str, more: str | None, sources: list[str]
    ) -> Edited:
        edited = self._editor().update(entry_id, questions=questions, answer=answer, more=more, sources=sources)
        self._saved(actor, "edit", entry_id, edited)
        return edited

    def add(
        self, actor: Actor, entry_id: str, questions: list[str], answer: str, sources: list[str], more: str | None
    ) -> Edited:
        edited = self._editor().add(entry_id, questions, answer, sources, more)
        self._saved(actor, "add", entry_id, edited)
        return edited

    def undo(self, actor: Actor, record_id: int | None = None) -> AuditRecord | None:
        """Undo one edit (the newest not yet undone, or the one given); None if there is none."""
        records = [r for r in self.store.audit(limit=200 if record_id else 50) if r.action != "undo"]
        chosen = [r for r in records if (record_id is None or r.id == record_id) and not self.undone(r)]
        if not chosen:
            return None
        last = chosen[0]
        edited = self._editor().restore(last.file, last.after, last.before)
        self._saved(actor, "undo", last.entry, replace(edited))
        self.store.set_value(f"kb:undone:{last.id}", "1")
        return last

    def undone(self, record: AuditRecord) -> bool:
        return self.store.get_value(f"kb:undone:{record.id}") == "1"

    def _web(self, incoming: Incoming, arg: str, rest: str) -> str:
        if incoming.chat_kind is not ChatKind.DIRECT:
            logger.warning("kb web asked in a group chat on %s (%s); no link sent", incoming.network, incoming.chat)
            return _WEB_IN_GROUP
        if self.web_link is None:
            return _WEB_OFF
        actor = Actor.of(incoming)
        url = self.web_link(actor.who, actor.network)
        logger.info("web sign-in link issued to %s on %s", actor.who, actor.network)
        return f"Your sign-in link for the moderators' page. It works once, for 10 minutes; do not share it:\n{url}"

    def _teach(self, incoming: Incoming, arg: str, rest: str) -> str:
        entry_id, _, question = arg.partition(" ")
        question = " ".join(filter(None, [question.strip(), rest]))
        if question.startswith("#") and question[1:].isdigit():
            listed = json.loads(self.store.get_value(_UNANSWERED_LIST) or "[]")
            n = int(question[1:])
            if not 1 <= n <= len(listed):
                return f"There is no #{n} in the last kb unanswered list; run kb unanswered first."
            question = str(listed[n - 1])
        if not entry_id or not question:
            return "Usage: kb teach ID QUESTION (or kb teach ID #N from kb unanswered)"
        edited = self.teach(Actor.of(incoming), entry_id, question)
        return f"Taught {entry_id}: “{question}”. Saved to {edited.file}."

    def _answer(self, incoming: Incoming, arg: str, rest: str) -> str:
        entry_id, _, inline = arg.partition(" ")
        text = "\n".join(filter(None, [inline.strip(), rest]))
        if not entry_id or not text:
            return "Usage: kb answer ID, then the new answer (on the same line or the next lines)"
        edited = self._editor().set_answer(entry_id, text)
        self._saved(Actor.of(incoming), "answer", entry_id, edited)
        return f"Saved the new answer of {entry_id} to {edited.file}. kb undo reverts it."

    def _add(self, incoming: Incoming, arg: str, rest: str) -> str:
        lines = [line.strip() for line in rest.splitlines() if line.strip()]
        sources = [
            s.strip() for line in lines if line.lower().startswith("source") for s in line.split(":", 1)[1].split(";")
        ]
        body = [line for line in lines if not line.lower().startswith("source")]
        if not arg or len(body) < 2 or not sources:
            return "Usage: kb add ID, then on the next lines: the question, the answer, and a last line like “Source: PPL 4(c)”."
        edited = self.add(Actor.of(incoming), arg, [body[0]], " ".join(body[1:]), [s for s in sources if s], None)
        return f"Added {arg} to {edited.file}. Teach more phrasings with kb teach {arg} QUESTION."

    def _remove(self, incoming: Incoming, arg: str, rest: str) -> str:
        if not arg:
            return "Usage: kb remove ID"
        edited = self._editor().remove(arg)
        self._saved(Actor.of(incoming), "remove", arg, edited)
        return f"Removed {arg} from {edited.file}. kb undo brings it back."

    def _undo(self, incoming: Incoming, arg: str, rest: str) -> str:
        last = self.undo(Actor.of(incoming))
        if last is None:
            return "There is no edit to undo."
        return f"Undid {last.action} of {last.entry} (edit #{last.id} by {last.who})."
