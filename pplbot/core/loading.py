"""Validate plain knowledge data into a KnowledgeBase, collecting every problem first.

Each problem is an Issue `file:line: path: message`. A file holds either FAQ `entries:` or a
`questionnaire:`; both are checked here so moderators get one report for everything.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TypeVar

from pplbot.core.documents import Document, Path, format_path
from pplbot.core.knowledge import (
    Answer,
    Entry,
    KnowledgeBase,
    Question,
    Questionnaire,
    Verdict,
    VerdictKind,
)
from pplbot.core.normalizing import normalize
from pplbot.errors import Issue, KnowledgeError

__all__ = ["ENTRY_KEYS", "parse_knowledge"]

ENTRY_KEYS = ("id", "questions", "answer", "more", "sources", "tags", "related")
_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_YAML11 = {
    bool: "a boolean",
    int: "a number",
    float: "a number",
    type(None): "empty (null)",
}
T = TypeVar("T")


class _Checker:
    """Collects issues for one document while reading typed values out of it."""

    def __init__(self, doc: Document, issues: list[Issue]) -> None:
        self.doc = doc
        self.issues = issues

    def issue(self, path: Path, message: str) -> None:
        self.issues.append(Issue(self.doc.file, self.doc.line(path), format_path(path), message))

    def text(self, value: object, path: Path, *, required: bool = True) -> str | None:
        if value is None and not required:
            return None
        if isinstance(value, str) and value.strip():
            return value.strip()
        if isinstance(value, str):
            self.issue(path, "must be a non-empty string")
        elif type(value) in _YAML11 and path in self.doc.raw:
            self.issue(
                path,
                f"must be a string, but YAML read {self.doc.raw[path]!r} as {_YAML11[type(value)]}; put it in quotes",
            )
        else:
            self.issue(path, "must be a non-empty string")
        return None

    def texts(self, value: object, path: Path, *, minimum: int = 1) -> tuple[str, ...]:
        if value is None and minimum == 0:
            return ()
        if not isinstance(value, list):
            self.issue(path, "must be a list of strings")
            return ()
        out = [self.text(item, (*path, i)) for i, item in enumerate(value)]
        good = tuple(s for s in out if s is not None)
        if len(value) < minimum:
            self.issue(path, f"must have at least {minimum} item{'s' if minimum > 1 else ''}")
        return good

    def mapping(self, value: object, path: Path, allowed: Sequence[str]) -> dict[str, object] | None:
        if not isinstance(value, dict):
            self.issue(path, "must be a mapping (key: value)")
            return None
        for key in value:
            if key not in allowed:
                hint = _closest(key, allowed)
                more = f" (did you mean {hint!r}?)" if hint else ""
                self.issue((*path, key), f"unknown key{more}; allowed: {', '.join(allowed)}")
        return value

    def ident(self, value: object, path: Path) -> str | None:
        s = self.text(value, path)
        if s is not None and not _ID.match(s):
            self.issue(path, "must use lowercase letters, digits and '-' only")
            return None
        return s


def _closest(key: str, allowed: Sequence[str]) -> str | None:
    from rapidfuzz import process
    from rapidfuzz.distance import Levenshtein

    found = process.extractOne(key, allowed, scorer=Levenshtein.normalized_similarity)
    return str(found[0]) if found and found[1] >= 0.5 else None


def parse_knowledge(documents: Sequence[Document], version: str = "") -> KnowledgeBase:
    """Validate every document; return the KnowledgeBase or raise KnowledgeError."""
    issues: list[Issue] = []
    entries: list[Entry] = []
    questionnaires: list[tuple[Questionnaire, Document]] = []
    for doc in documents:
        if doc.syntax_error:
            issues.append(Issue(doc.file, doc.syntax_line, "", doc.syntax_error))
            continue
        check = _Checker(doc, issues)
        top = check.mapping(doc.data, (), ("entries", "questionnaire"))
        if top is None:
            continue
        if "entries" in top:
            entries.extend(_entries(check, top["entries"]))
        if "questionnaire" in top:
            q = _questionnaire(check, top["questionnaire"])
            if q is not None:
                questionnaires.append((q, doc))
        if not {"entries", "questionnaire"} & set(top):
            check.issue((), "expected a top-level 'entries:' or 'questionnaire:' key")
    _cross_check(entries, issues)
    if len(questionnaires) > 1:
        _, doc = questionnaires[1]
        issues.append(
            Issue(doc.file, doc.line(("questionnaire",)), "questionnaire", "only one questionnaire is allowed")
        )
    if not entries and not issues:
        issues.append(Issue("knowledge", 0, "", "no FAQ entries found"))
    if issues:
        raise KnowledgeError(issues)
    questionnaire = questionnaires[0][0] if questionnaires else None
    return KnowledgeBase.of(tuple(entries), questionnaire, version)


def _entries(check: _Checker, value: object) -> list[Entry]:
    if not isinstance(value, list):
        check.issue(("entries",), "must be a list of entries")
        return []
    out = []
    for i, raw in enumerate(value):
        path: Path = ("entries", i)
        item = check.mapping(raw, path, ENTRY_KEYS)
        if item is None:
            continue
        ident = check.ident(item.get("id"), (*path, "id"))
        questions = check.texts(item.get("questions"), (*path, "questions"))
        answer = check.text(item.get("answer"), (*path, "answer"))
        more = check.text(item.get("more"), (*path, "more"), required=False)
        if "sources" not in item:
            check.issue(path, "entry has no sources: cite a licence section or a source")
            sources: tuple[str, ...] = ()
        else:
            sources = check.texts(item.get("sources"), (*path, "sources"))
        tags = check.texts(item.get("tags"), (*path, "tags"), minimum=0)
        related = check.texts(item.get("related"), (*path, "related"), minimum=0)
        if ident and questions and answer and sources:
            out.append(
                Entry(ident, questions, answer, sources, more, tags, related, check.doc.file, check.doc.line(path))
            )
        elif ident:
            # keep a placeholder so cross-checks (duplicate ids, related) still see the id
            out.append(
                Entry(ident, questions, answer or "", sources, None, (), related, check.doc.file, check.doc.line(path))
            )
    return out


def _cross_check(entries: list[Entry], issues: list[Issue]) -> None:
    seen: dict[str, Entry] = {}
    phrases: dict[str, Entry] = {}
    for entry in entries:
        where = (entry.file, entry.line)
        if entry.id in seen:
            first = seen[entry.id]
            issues.append(Issue(*where, f"id {entry.id}", f"duplicate id (first defined at {first.file}:{first.line})"))
        else:
            seen[entry.id] = entry
        for phrase in entry.questions:
            key = " ".join(normalize(phrase))
            if not key:
                continue
            other = phrases.get(key)
            if other is not None and other.id != entry.id:
                issues.append(
                    Issue(
                        *where,
                        f"id {entry.id}",
                        f"phrase {phrase!r} is the same as one in entry {other.id!r} ({other.file}:{other.line})",
                    )
                )
            phrases.setdefault(key, entry)
    for entry in entries:
        for rel in entry.related:
            if rel not in seen:
                issues.append(Issue(entry.file, entry.line, f"id {entry.id}", f"related id {rel!r} does not exist"))
    # drop placeholders for incomplete entries (their own issues were reported)
    entries[:] = [e for e in entries if e.answer and e.questions and e.sources]


_Q_KEYS = ("title", "start", "disclaimer", "triggers", "conditions", "questions", "verdicts")
_QUESTION_KEYS = ("id", "text", "why", "options")
_OPTION_KEYS = ("label", "next", "aliases")
_VERDICT_KEYS = ("id", "verdict", "summary", "why", "sections", "conditions", "next_steps")


def _questionnaire(check: _Checker, value: object) -> Questionnaire | None:
    base: Path = ("questionnaire",)
    top = check.mapping(value, base, _Q_KEYS)
    if top is None:
        return None
    title = check.text(top.get("title"), (*base, "title")) or ""
    start = check.ident(top.get("start"), (*base, "start"))
    disclaimer = check.text(top.get("disclaimer"), (*base, "disclaimer")) or ""
    triggers = check.texts(top.get("triggers"), (*base, "triggers"), minimum=0)
    conditions: dict[str, str] = {}
    raw_conditions = check.mapping(top.get("conditions"), (*base, "conditions"), list(_keys(top.get("conditions"))))
    for key, text in (raw_conditions or {}).items():
        value_text = check.text(text, (*base, "conditions", key))
        if value_text:
            conditions[key] = value_text
    questions = _items(
        check, top.get("questions"), (*base, "questions"), lambda item, path: _question(check, item, path)
    )
    verdicts = _items(
        check, top.get("verdicts"), (*base, "verdicts"), lambda item, path: _verdict(check, item, path, conditions)
    )
    q_by_id: dict[str, tuple[Question, Path]] = {}
    v_by_id: dict[str, tuple[Verdict, Path]] = {}
    for q, path in questions:
        if q.id in q_by_id or q.id in v_by_id:
            check.issue((*path, "id"), f"duplicate questionnaire id {q.id!r}")
        q_by_id[q.id] = (q, path)
    for v, path in verdicts:
        if v.id in q_by_id or v.id in v_by_id:
            check.issue((*path, "id"), f"duplicate questionnaire id {v.id!r}")
        v_by_id[v.id] = (v, path)
    before = len(check.issues)
    for q, path in q_by_id.values():
        for i, option in enumerate(q.options):
            if option.next not in q_by_id and option.next not in v_by_id:
                check.issue(
                    (*path, "options", i, "next"),
                    f"leads to {option.next!r}, which is neither a question nor a verdict",
                )
    if start and start not in q_by_id:
        check.issue((*base, "start"), f"start {start!r} is not a question")
    if len(check.issues) > before or not start or start not in q_by_id:
        return None
    depths = _check_graph(check, start, q_by_id, v_by_id)
    if depths is None:
        return None
    return Questionnaire(
        start,
        title,
        {k: v[0] for k, v in q_by_id.items()},
        {k: v[0] for k, v in v_by_id.items()},
        disclaimer,
        depths,
        triggers,
    )


def _keys(value: object) -> list[str]:
    return [str(k) for k in value] if isinstance(value, dict) else []


def _items(
    check: _Checker, value: object, path: Path, build: Callable[[object, Path], T | None]
) -> list[tuple[T, Path]]:
    if not isinstance(value, list) or not value:
        check.issue(path, "must be a non-empty list")
        return []
    out = []
    for i, item in enumerate(value):
        built = build(item, (*path, i))
        if built is not None:
            out.append((built, (*path, i)))
    return out


def _question(check: _Checker, value: object, path: Path) -> Question | None:
    item = check.mapping(value, path, _QUESTION_KEYS)
    if item is None:
        return None
    ident = check.ident(item.get("id"), (*path, "id"))
    text = check.text(item.get("text"), (*path, "text"))
    why = check.text(item.get("why"), (*path, "why"))
    options: list[Answer] = []
    raw_options = item.get("options")
    if not isinstance(raw_options, list) or len(raw_options) < 2:
        check.issue((*path, "options"), "must be a list of at least 2 options")
        raw_options = raw_options if isinstance(raw_options, list) else []
    for i, raw in enumerate(raw_options):
        opath = (*path, "options", i)
        option = check.mapping(raw, opath, _OPTION_KEYS)
        if option is None:
            continue
        label = check.text(option.get("label"), (*opath, "label"))
        nxt = check.ident(option.get("next"), (*opath, "next"))
        aliases = check.texts(option.get("aliases"), (*opath, "aliases"), minimum=0)
        if label and nxt:
            options.append(Answer(label, nxt, aliases))
    if ident and text and why and len(options) == len(raw_options) >= 2:
        return Question(ident, text, why, tuple(options))
    return None


def _verdict(check: _Checker, value: object, path: Path, conditions: dict[str, str]) -> Verdict | None:
    item = check.mapping(value, path, _VERDICT_KEYS)
    if item is None:
        return None
    ident = check.ident(item.get("id"), (*path, "id"))
    kind_text = check.text(item.get("verdict"), (*path, "verdict"))
    kind = None
    if kind_text is not None:
        try:
            kind = VerdictKind(kind_text)
        except ValueError:
            check.issue((*path, "verdict"), f"must be one of {', '.join(v.value for v in VerdictKind)}")
    summary = check.text(item.get("summary"), (*path, "summary"))
    why = check.text(item.get("why"), (*path, "why"))
    sections = check.texts(item.get("sections"), (*path, "sections"))
    if "sections" in item and not sections:
        check.issue((*path, "sections"), "every verdict must cite at least one licence section")
    cond_ids = check.texts(item.get("conditions"), (*path, "conditions"), minimum=0)
    resolved = []
    for i, cid in enumerate(cond_ids):
        if cid in conditions:
            resolved.append(conditions[cid])
        else:
            check.issue(
                (*path, "conditions", i), f"unknown condition {cid!r}; define it under questionnaire.conditions"
            )
    next_steps = check.text(item.get("next_steps"), (*path, "next_steps"))
    if ident and kind and summary and why and sections and next_steps and len(resolved) == len(cond_ids):
        return Verdict(ident, kind, summary, why, sections, tuple(resolved), next_steps)
    return None


def _check_graph(
    check: _Checker,
    start: str,
    questions: dict[str, tuple[Question, Path]],
    verdicts: dict[str, tuple[Verdict, Path]],
) -> dict[str, int] | None:
    """No cycles, every node reachable; returns each question's longest path to a verdict."""
    depth: dict[str, int] = {}
    state: dict[str, str] = {}
    ok = True

    def visit(node: str) -> int:
        nonlocal ok
        if node in verdicts:
            return 0
        if state.get(node) == "done":
            return depth[node]
        if state.get(node) == "active":
            ok = False
            check.issue((*questions[node][1], "id"), f"question {node!r} is part of a cycle")
            return 0
        state[node] = "active"
        longest = max(visit(o.next) for o in questions[node][0].options)
        state[node] = "done"
        depth[node] = longest + 1
        return depth[node]

    visit(start)
    reached = set(depth)
    reached |= {o.next for q, _ in questions.values() if q.id in reached for o in q.options}
    for qid, (_, path) in questions.items():
        if qid not in reached:
            check.issue((*path, "id"), f"question {qid!r} cannot be reached from the start")
            ok = False
    for vid, (_, path) in verdicts.items():
        if vid not in reached:
            check.issue((*path, "id"), f"verdict {vid!r} cannot be reached from the start")
            ok = False
    return depth if ok else None
