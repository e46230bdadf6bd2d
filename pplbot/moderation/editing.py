"""Edits to knowledge files from chat: validated first, written atomically, comments kept.

ruamel.yaml's round-trip mode keeps comments, key order and formatting of the curated files.
An edit is refused when the file changed on disk since it was loaded (nothing is clobbered),
or when the edited knowledge base would not pass `pplbot check` (nothing broken is written).
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import FoldedScalarString

from pplbot.errors import Issue, KnowledgeError, PplbotError
from pplbot.knowledge_files import parse_texts
from pplbot.moderation.live import Loaded

__all__ = ["NEW_ENTRIES_FILE", "EditError", "Edited", "KnowledgeEditor"]

NEW_ENTRIES_FILE = "faq/added-in-chat.yaml"


class EditError(PplbotError):
    """An edit that cannot be made; the message is for the moderator, `issues` the check's findings."""

    def __init__(self, message: str, issues: tuple[Issue, ...] = (), *, conflict: bool = False) -> None:
        super().__init__(message)
        self.issues = issues
        self.conflict = conflict  # the file changed on disk since it was loaded


@dataclass(frozen=True, slots=True)
class Edited:
    file: str  # display name
    before: str
    after: str
    loaded: Loaded  # the knowledge base with the edit, already validated


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096  # never re-wrap the curated files
    y.indent(mapping=2, sequence=4, offset=2)
    return y


def _text(value: str) -> str | FoldedScalarString:
    return FoldedScalarString(value) if len(value) > 90 and "\n" not in value else value


class KnowledgeEditor:
    def __init__(self, loaded: Loaded) -> None:
        self.loaded = loaded

    # ------------------------------------------------------------ operations
    def teach(self, entry_id: str, phrase: str) -> Edited:
        def change(entry: CommentedMap) -> None:
            questions = entry.get("questions")
            if not isinstance(questions, CommentedSeq):
                raise EditError(f"entry {entry_id} has no list of questions to add to")
            questions.append(phrase)

        return self._edit_entry(entry_id, change)

    def set_answer(self, entry_id: str, text: str) -> Edited:
        def change(entry: CommentedMap) -> None:
            entry["answer"] = _text(text)

        return self._edit_entry(entry_id, change)

    def update(
        self, entry_id: str, *, questions: list[str], answer: str, more: str | None, sources: list[str]
    ) -> Edited:
        """Replace an entry's paraphrases, answer, `more` and sources (fields left equal are not touched)."""

        def change(entry: CommentedMap) -> None:
            if list(entry.get("questions") or []) != questions:
                entry["questions"] = CommentedSeq(questions)
            if str(entry.get("answer", "")).strip() != answer.strip():
                entry["answer"] = _text(answer)
            old_more = entry.get("more")
            if (str(old_more).strip() if old_more is not None else None) != (more.strip() if more else None):
                if more:
                    entry["more"] = _text(more)
                else:
                    entry.pop("more", None)
            if list(entry.get("sources") or []) != sources:
                entry["sources"] = CommentedSeq(sources)

        return self._edit_entry(entry_id, change)

    def remove(self, entry_id: str) -> Edited:
        display = self._file_of(entry_id)
        users = [e.id for e in self.loaded.kb.entries if entry_id in e.related and e.file != display]
        if users:
            raise EditError(
                f"{entry_id} is listed as related by {', '.join(users)} in other files; remove those links first"
            )

        def change(doc: CommentedMap) -> None:
            entries = doc["entries"]
            entries.pop(self._index(entries, entry_id))
            for other in entries:
                related = other.get("related")
                if isinstance(related, CommentedSeq) and entry_id in related:
                    related.remove(entry_id)
                    if not related:
                        del other["related"]

        return self._edit_file(display, change)

    def add(
        self, entry_id: str, question: str | list[str], answer: str, sources: list[str], more: str | None = None
    ) -> Edited:
        if entry_id in self.loaded.kb.by_id:
            raise EditError(f"there is already an entry {entry_id}; use kb answer or kb teach to change it")
        display = str(Path(self.loaded.directory.name) / NEW_ENTRIES_FILE)

        def change(doc: CommentedMap) -> None:
            entry = CommentedMap()
            entry["id"] = entry_id
            entry["questions"] = CommentedSeq([question] if isinstance(question, str) else question)
            entry["answer"] = _text(answer)
            if more:
                entry["more"] = _text(more)
            entry["sources"] = CommentedSeq(sources)
            doc.setdefault("entries", CommentedSeq()).append(entry)

        return self._edit_file(display, change, create="# Entries added by moderators in chat.\nentries: []\n")

    def restore(self, display: str, expected: str, text: str) -> Edited:
        """Put back `text` if the file still reads `expected` (undo)."""
        current = self._read(display, missing_ok=True)
        if current != expected:
            raise EditError(f"{display} changed since that edit, so undo would overwrite newer work; edit it by hand")
        return self._write(display, current, text)

    # ------------------------------------------------------------ mechanics
    def _file_of(self, entry_id: str) -> str:
        entry = self.loaded.kb.by_id.get(entry_id)
        if entry is None:
            raise EditError(f"there is no entry {entry_id} (try kb search)")
        return entry.file

    @staticmethod
    def _index(entries: Any, entry_id: str) -> int:
        for i, item in enumerate(entries):
            if isinstance(item, dict) and item.get("id") == entry_id:
                return i
        raise EditError(f"entry {entry_id} is not in its file any more; run kb reload")

    def _edit_entry(self, entry_id: str, change: Callable[[CommentedMap], None]) -> Edited:
        def change_doc(doc: CommentedMap) -> None:
            entries = doc["entries"]
            change(entries[self._index(entries, entry_id)])

        return self._edit_file(self._file_of(entry_id), change_doc)

    def _read(self, display: str, *, missing_ok: bool = False) -> str:
        path = self.loaded.path_of(display)
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            if missing_ok:
                return ""
            raise EditError(f"{display} no longer exists; run kb reload") from None
        except OSError as exc:
            raise EditError(f"cannot read {display}: {exc.strerror}") from exc

    def _edit_file(self, display: str, change: Callable[[CommentedMap], None], create: str | None = None) -> Edited:
        loaded_text = self.loaded.texts.get(display)
        current = self._read(display, missing_ok=create is not None and loaded_text is None)
        if loaded_text is None and create is not None and not current:
            current = create
        elif current != loaded_text:
            raise EditError(
                f"{display} was changed on disk since I loaded it (an editor or git pull?). "
                "I did not overwrite it. Run kb reload, then repeat your edit.",
                conflict=True,
            )
        yaml = _yaml()
        try:
            doc = yaml.load(current)
        except YAMLError as exc:
            raise EditError(f"{display} is not valid YAML: {exc}") from exc
        change(doc)
        out = io.StringIO()
        yaml.dump(doc, out)
        return self._write(display, self.loaded.texts.get(display, ""), out.getvalue())

    def _write(self, display: str, before: str, after: str) -> Edited:
        texts = dict(self.loaded.texts)
        if after:
            texts[display] = after
        else:
            texts.pop(display, None)
        try:
            kb = parse_texts(texts)
        except KnowledgeError as exc:
            problems = "\n".join(str(i) for i in exc.issues[:10])
            raise EditError(
                f"the edit would break the knowledge base, so I did not save it:\n{problems}", exc.issues
            ) from exc
        path = self.loaded.path_of(display)
        if after:
            _atomic_write(path, after)
        else:
            path.unlink(missing_ok=True)
        return Edited(display, before, after, Loaded(kb, self.loaded.directory, texts))


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
