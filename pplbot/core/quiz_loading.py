"""Validate the questionnaire: its questions, options, verdicts, conditions and graph."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pplbot.core.checking import Checker
from pplbot.core.documents import Path
from pplbot.core.knowledge import Answer, Question, Questionnaire, Verdict, VerdictKind

__all__ = ["VERDICT_WHY_MAX_WORDS", "parse_questionnaire"]

T = TypeVar("T")

_Q_KEYS = ("title", "start", "disclaimer", "triggers", "conditions", "questions", "verdicts")
_QUESTION_KEYS = ("id", "text", "why", "options")
_OPTION_KEYS = ("label", "next", "aliases", "short", "conditions")
_VERDICT_KEYS = ("id", "verdict", "why", "detail", "sections", "conditions", "next_steps")
VERDICT_WHY_MAX_WORDS = 40  # the one-sentence reason shown with a verdict; the rest goes to `detail`


def parse_questionnaire(check: Checker, value: object) -> Questionnaire | None:
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
        check, top.get("questions"), (*base, "questions"), lambda item, path: _question(check, item, path, conditions)
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
    if depths is None or not _check_permitted_paths(check, start, q_by_id, v_by_id):
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
    check: Checker, value: object, path: Path, build: Callable[[object, Path], T | None]
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


def _condition_texts(check: Checker, value: object, path: Path, conditions: dict[str, str]) -> tuple[str, ...] | None:
    ids = check.texts(value, path, minimum=0)
    resolved = []
    for i, cid in enumerate(ids):
        if cid in conditions:
            resolved.append(conditions[cid])
        else:
            check.issue((*path, i), f"unknown condition {cid!r}; define it under questionnaire.conditions")
    return tuple(resolved) if len(resolved) == len(ids) else None


def _question(check: Checker, value: object, path: Path, conditions: dict[str, str]) -> Question | None:
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
        short = check.text(option.get("short"), (*opath, "short"), required=False) or ""
        added = _condition_texts(check, option.get("conditions"), (*opath, "conditions"), conditions)
        if label and nxt and added is not None:
            options.append(Answer(label, nxt, aliases, short, added))
    if ident and text and why and len(options) == len(raw_options) >= 2:
        return Question(ident, text, why, tuple(options))
    return None


def _verdict(check: Checker, value: object, path: Path, conditions: dict[str, str]) -> Verdict | None:
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
    why = check.text(item.get("why"), (*path, "why"))
    if why is not None and len(why.split()) > VERDICT_WHY_MAX_WORDS:
        check.issue(
            (*path, "why"),
            f"has {len(why.split())} words; keep it to {VERDICT_WHY_MAX_WORDS} and move the rest to 'detail'",
        )
    detail = check.text(item.get("detail"), (*path, "detail"))
    sections = check.texts(item.get("sections"), (*path, "sections"))
    if "sections" in item and not sections:
        check.issue((*path, "sections"), "every verdict must cite at least one licence section")
    resolved = _condition_texts(check, item.get("conditions"), (*path, "conditions"), conditions)
    if kind is VerdictKind.PERMITTED and resolved:
        check.issue(
            (*path, "conditions"),
            "a 'permitted' verdict must have no conditions: use 'permitted_with_conditions' or drop the conditions",
        )
    next_steps = check.text(item.get("next_steps"), (*path, "next_steps"))
    if ident and kind and why and detail and sections and next_steps and resolved is not None:
        return Verdict(ident, kind, why, detail, sections, resolved, next_steps)
    return None


def _check_permitted_paths(
    check: Checker, start: str, questions: dict[str, tuple[Question, Path]], verdicts: dict[str, tuple[Verdict, Path]]
) -> bool:
    """No path may add a condition on its way to a `permitted` verdict (that would be a condition)."""
    ok = True
    seen: set[tuple[str, bool]] = set()

    def visit(node: str, carrying: bool) -> None:
        nonlocal ok
        if (node, carrying) in seen or node not in questions:
            return
        seen.add((node, carrying))
        question, path = questions[node]
        for i, option in enumerate(question.options):
            adds = carrying or bool(option.conditions)
            target = verdicts.get(option.next)
            if target is not None and adds and target[0].kind is VerdictKind.PERMITTED:
                check.issue(
                    (*path, "options", i, "next"),
                    f"leads to the 'permitted' verdict {option.next!r} on a path that adds conditions",
                )
                ok = False
            visit(option.next, adds)

    visit(start, False)
    return ok


def _check_graph(
    check: Checker,
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
