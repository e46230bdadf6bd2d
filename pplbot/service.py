"""The service: load the session, run the core, save session and events in one transaction.

If the store fails, the person still gets an answer (knowledge-base questions need no state);
the failure is logged and, where progress would be lost, said in the reply.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from pplbot.core.bot import Bot, Turn
from pplbot.core.commands import parse_command
from pplbot.core.knowledge import KnowledgeBase
from pplbot.core.messages import Incoming, Reply, ReplyKind
from pplbot.core.sessions import Session, SessionKey
from pplbot.errors import StoreError
from pplbot.metrics import Metrics
from pplbot.store.base import Store, StoredEvent

if TYPE_CHECKING:
    from pplbot.moderation.commands import Moderation

__all__ = ["Service"]

logger = logging.getLogger(__name__)

_STORE_DOWN = "⚠ I can't save progress right now (storage problem), so questionnaire answers may be lost. Questions about the PPL still work."


class Service:
    def __init__(self, bot: Bot, store: Store, moderation: Moderation | None = None) -> None:
        self.bot = bot
        self.store = store
        self.moderation = moderation
        self.metrics = Metrics()
        self._salt: str | None = None

    def set_knowledge(self, kb: KnowledgeBase) -> None:
        """Answer from a new knowledge base from the next message on."""
        self.bot = Bot(kb, self.bot.options)

    def user_hash(self, network: str, user: str) -> str:
        if self._salt is None:
            try:
                salt = self.store.get_value("user_salt")
                if salt is None:
                    salt = secrets.token_hex(16)
                    self.store.set_value("user_salt", salt)
            except StoreError:
                salt = "unsaved"
            self._salt = salt
        return hashlib.sha256(f"{self._salt}:{network}:{user}".encode()).hexdigest()[:16]

    def handle(self, incoming: Incoming) -> list[Reply]:
        started = time.perf_counter()
        replies, events = self._handle(incoming)
        self.metrics.observe(incoming.network, len(replies), events, time.perf_counter() - started)
        return replies

    def _handle(self, incoming: Incoming) -> tuple[list[Reply], list[tuple[str, str]]]:
        command = parse_command(incoming.text)
        if command is not None and command.name == "kb":
            if self.moderation is None:
                return [
                    Reply("Moderator commands are not enabled here.", ReplyKind.INFO, reply_to=incoming.message_id)
                ], []
            return self.moderation.handle(incoming, command.args, self.bot), []
        key = SessionKey.of(incoming)
        store_ok = True
        try:
            session = self.store.load_session(key) or Session(key)
        except StoreError as exc:
            logger.error("store unavailable, answering without state: %s", exc)
            session, store_ok = Session(key), False
        turn: Turn = self.bot.handle(session, incoming)
        events = [
            StoredEvent(
                incoming.received_at,
                incoming.network,
                incoming.chat,
                e.kind,
                e.detail,
                self.user_hash(incoming.network, incoming.user),
            )
            for e in turn.events
        ]
        if store_ok:
            try:
                self.store.save_turn(turn.session, events)
            except StoreError as exc:
                logger.error("could not save the turn: %s", exc)
                store_ok = False
        replies = list(turn.replies)
        if not store_ok and _involves_quiz(replies):
            replies.append(Reply(_STORE_DOWN, ReplyKind.ERROR, reply_to=incoming.message_id))
        return replies, [(e.kind, e.detail) for e in turn.events]

    def session(self, key: SessionKey) -> Session | None:
        try:
            return self.store.load_session(key)
        except StoreError:
            return None

    def move_session(self, old: SessionKey, new: SessionKey) -> None:
        """Carry a session to another key (e.g. a questionnaire moved into a new thread)."""
        try:
            session = self.store.load_session(old)
            if session is None:
                return
            self.store.save_turn(replace(session, key=new), ())
            self.store.save_turn(Session(old, session.updated_at), ())
        except StoreError as exc:
            logger.error("could not move the session: %s", exc)

    def set_quiz_message(self, key: SessionKey, message_id: str) -> None:
        """Remember which network message shows the current question (for editing it later)."""
        try:
            session = self.store.load_session(key)
            if session is not None and session.quiz is not None:
                self.store.save_turn(replace(session, quiz=replace(session.quiz, message_id=message_id)), ())
        except StoreError as exc:
            logger.error("could not save the question message id: %s", exc)


def _involves_quiz(replies: Sequence[Reply]) -> bool:
    return any(r.kind in {ReplyKind.QUESTION, ReplyKind.INVALID} for r in replies)
