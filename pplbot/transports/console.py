"""The terminal chat: lines in, plain text out, options as numbered choices."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from pplbot.core.messages import ChatKind, Incoming, Reply, ReplyKind
from pplbot.core.quiz_views import HINT
from pplbot.moderation.live import LiveKnowledge
from pplbot.service import Service
from pplbot.transports.markup import CONSOLE, hints, numbered, to_plain

__all__ = ["ConsoleChat", "render", "to_incoming"]

logger = logging.getLogger(__name__)

PROMPT = "you> "
_QUIT = {"quit", "exit", "/quit", "/exit", ":q"}


def to_incoming(line: str, user: str = "you", now: datetime | None = None, number: int = 0) -> Incoming:
    return Incoming(
        network="console",
        chat="console",
        user=user,
        text=line,
        received_at=now or datetime.now(UTC),
        chat_kind=ChatKind.DIRECT,
        message_id=str(number) if number else None,
        is_moderator=True,
    )


def render(reply: Reply) -> str:
    """Plain text; options as numbered choices (answer by number)."""
    text = to_plain(hints(reply.text, CONSOLE))
    if reply.options:
        text += "\n" + numbered([o.label for o in reply.options])
        if reply.kind is ReplyKind.QUESTION:
            text += "\n" + to_plain(f"_{HINT}_")
    return text


class ConsoleChat:
    """An interactive session; `read` returns None at end of input (Ctrl-D)."""

    def __init__(
        self,
        service: Service,
        read: Callable[[str], str | None],
        out: TextIO,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        live: LiveKnowledge | None = None,
    ) -> None:
        self.service = service
        self.read = read
        self.out = out
        self.clock = clock
        self.live = live
        self._seen = live.fingerprint() if live else None

    def _reload_if_changed(self) -> None:
        """Pick up edits to the knowledge files between two lines (the terminal's hot reload)."""
        if self.live is None or self.live.fingerprint() == self._seen:
            return
        error = self.live.reload()
        self._seen = self.live.fingerprint()
        if error is not None:
            self._print(f"bot> ⚠ The knowledge files have {len(error.issues)} problem(s); I keep the previous version.")
            for issue in error.issues[:20]:
                self._print(f"     {issue}")

    def run(self, greeting: str | None = None) -> int:
        if greeting:
            self._print(greeting)
        number = 0
        while True:
            line = self.read(PROMPT)
            if line is None or line.strip().lower() in _QUIT:
                self._print("bot> Bye!")
                return 0
            number += 1
            self._reload_if_changed()
            try:
                replies = self.service.handle(to_incoming(line, now=self.clock(), number=number))
            except Exception:  # the adapter's one error boundary
                logger.exception("error while handling a message")
                self._print("bot> Sorry, something went wrong on my side. Please try again.")
                continue
            for reply in replies:
                self._print("bot> " + render(reply).replace("\n", "\n     "))

    def _print(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()


def readline_input(history: Path | None) -> Callable[[str], str | None]:
    """input() with line editing and a history file, where readline exists."""
    try:
        import readline
    except ImportError:  # pragma: no cover - Windows without pyreadline
        readline = None  # type: ignore[assignment]
    if readline is not None and history is not None:
        try:
            history.parent.mkdir(parents=True, exist_ok=True)
            if history.exists():
                readline.read_history_file(history)
            readline.set_history_length(1000)
            import atexit

            atexit.register(_save_history, readline, history)
        except OSError as exc:
            logger.warning("readline history unavailable: %s", exc)

    def read(prompt: str) -> str | None:
        try:
            return input(prompt)
        except (EOFError, KeyboardInterrupt):
            return None

    return read


def _save_history(readline: object, history: Path) -> None:
    with contextlib.suppress(OSError):
        readline.write_history_file(str(history))  # type: ignore[attr-defined]
