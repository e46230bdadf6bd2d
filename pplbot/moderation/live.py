"""The knowledge base in use, reloaded when its files change, and how the service gets a new bot.

`LiveKnowledge` remembers a fingerprint of every file it loaded, so an edit from chat can tell
whether a file changed on disk since (a git pull, an editor) and refuse instead of clobbering.
A reload that fails validation keeps the last good knowledge base and reports every problem.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from pplbot.core.knowledge import KnowledgeBase
from pplbot.errors import KnowledgeError
from pplbot.knowledge_files import knowledge_files, parse_texts, read_texts

__all__ = ["LiveKnowledge", "Loaded", "load_tracked"]

logger = logging.getLogger(__name__)

Notifier = Callable[[str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Loaded:
    kb: KnowledgeBase
    directory: Path
    texts: dict[str, str]  # display name ("knowledge/faq/x.yaml") -> the text that was loaded

    def path_of(self, display: str) -> Path:
        return self.directory.parent / display

    def display_of(self, path: Path) -> str:
        return str(path.relative_to(self.directory.parent))


def load_tracked(directory: Path) -> Loaded:
    texts = read_texts(directory)
    return Loaded(parse_texts(texts), directory, texts)


class LiveKnowledge:
    """Holds the current knowledge; `on_change` is called with each new good knowledge base."""

    def __init__(self, directory: Path, on_change: Callable[[KnowledgeBase], None] | None = None) -> None:
        self.directory = directory
        self.on_change = on_change
        self.current = load_tracked(directory)
        self.notifiers: list[Notifier] = []
        self.last_error: KnowledgeError | None = None
        self.reload_failures = 0
        self._fingerprint = self.fingerprint()

    def fingerprint(self) -> tuple[tuple[str, int, int], ...]:
        out = []
        for path in knowledge_files(self.directory):
            with contextlib.suppress(OSError):
                stat = path.stat()
                out.append((str(path), stat.st_mtime_ns, stat.st_size))
        return tuple(out)

    def adopt(self, loaded: Loaded) -> None:
        """Use a knowledge base that was just validated (and written) by an edit."""
        self.current = loaded
        self._fingerprint = self.fingerprint()
        self.last_error = None
        if self.on_change is not None:
            self.on_change(loaded.kb)

    def reload(self) -> KnowledgeError | None:
        """Load the files again; on problems keep serving the last good knowledge base."""
        self._fingerprint = self.fingerprint()
        try:
            loaded = load_tracked(self.directory)
        except KnowledgeError as exc:
            self.last_error = exc
            self.reload_failures += 1
            logger.error("knowledge reload failed; still serving version %s:\n%s", self.current.kb.version, exc)
            return exc
        if loaded.kb.version != self.current.kb.version:
            logger.info("knowledge reloaded: version %s, %d entries", loaded.kb.version, len(loaded.kb.entries))
        self.current = loaded
        self.last_error = None
        if self.on_change is not None:
            self.on_change(loaded.kb)
        return None

    async def notify(self, text: str) -> None:
        for notify in self.notifiers:
            try:
                await notify(text)
            except Exception:  # a network that is down must not stop the others
                logger.exception("could not notify moderators")

    async def watch(self, stop: asyncio.Event, interval: float = 1.0, debounce: float = 0.5) -> None:
        """Poll the folder; reload once a change has been quiet for `debounce` seconds."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
            if stop.is_set():
                return
            seen = self.fingerprint()
            if seen == self._fingerprint:
                continue
            while True:  # debounce: editors write in several steps
                await asyncio.sleep(debounce)
                again = self.fingerprint()
                if again == seen:
                    break
                seen = again
            error = await asyncio.to_thread(self.reload)
            if error is not None:
                problems = "\n".join(str(i) for i in error.issues[:20])
                more = f"\n… and {len(error.issues) - 20} more" if len(error.issues) > 20 else ""
                await self.notify(
                    f"⚠ The knowledge base has {len(error.issues)} problem(s) after a change on disk; "
                    f"I keep serving version {self.current.kb.version}.\n{problems}{more}"
                )
