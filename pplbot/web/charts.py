"""Server-side SVG: the weekly answer rates, the top unanswered groups, the questionnaire graph.

Plain SVG elements with presentation attributes (no inline styles, so the page's
Content-Security-Policy can forbid them); every text is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

from pplbot.core.knowledge import Question, Questionnaire, VerdictKind
from pplbot.moderation.unanswered import Group
from pplbot.web.pages import Week

__all__ = ["questionnaire_graph", "top_groups_chart", "weekly_chart"]

COLOURS = {"answered": "#2e7d32", "suggested": "#f9a825", "fallback": "#c62828"}
VERDICT_COLOURS = {
    VerdictKind.PERMITTED: "#c8e6c9",
    VerdictKind.PERMITTED_WITH_CONDITIONS: "#fff9c4",
    VerdictKind.NOT_PERMITTED: "#ffcdd2",
    VerdictKind.NEEDS_SEPARATE_PERMISSION: "#e1bee7",
    VerdictKind.UNCLEAR: "#e0e0e0",
}


def _svg(width: float, height: float, body: list[str], label: str) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}" role="img" aria-label="{escape(label)}">' + "".join(body) + "</svg>"
    )


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def weekly_chart(weeks: Sequence[Week]) -> Markup:
    """Stacked bars per week: share answered / suggested / "don't know", with the count on top."""
    if not weeks:
        return Markup("<p>No questions recorded yet.</p>")
    bar, gap, height, top, bottom = 44.0, 14.0, 160.0, 22.0, 34.0
    width = len(weeks) * (bar + gap) + gap
    body = []
    for i, week in enumerate(weeks):
        x = gap + i * (bar + gap)
        y = top + height
        for kind in ("answered", "suggested", "fallback"):
            n = getattr(week, kind)
            h = height * n / week.asked if week.asked else 0.0
            y -= h
            body.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.0f}" height="{h:.1f}" fill="{COLOURS[kind]}">'
                f"<title>{escape(week.label)}: {kind} {n} of {week.asked}</title></rect>"
            )
        body.append(
            f'<text x="{x + bar / 2:.1f}" y="{top - 6:.0f}" font-size="11" text-anchor="middle">{week.asked}</text>'
        )
        body.append(
            f'<text x="{x + bar / 2:.1f}" y="{top + height + 16:.0f}" font-size="10" text-anchor="middle">'
            f"{escape(week.label[5:])}</text>"
        )
    return _svg(width, top + height + bottom, body, "Answered, suggested and don't-know share per week")


def top_groups_chart(groups: Sequence[Group], limit: int = 8) -> Markup:
    shown = list(groups[:limit])
    if not shown:
        return Markup("<p>No unanswered questions. 🎉</p>")
    row, label_w, bar_w = 26.0, 330.0, 220.0
    most = max(g.count for g in shown)
    body = []
    for i, g in enumerate(shown):
        y = 6 + i * row
        w = bar_w * g.count / most
        body.append(f'<text x="0" y="{y + 15:.0f}" font-size="12">{escape(_short(g.text, 52))}</text>')
        body.append(f'<rect x="{label_w:.0f}" y="{y + 3:.0f}" width="{w:.1f}" height="16" fill="#c62828"/>')
        body.append(f'<text x="{label_w + w + 6:.1f}" y="{y + 15:.0f}" font-size="12">{g.count}</text>')
    return _svg(label_w + bar_w + 40, 12 + len(shown) * row, body, "Most frequent unanswered questions")


def _layers(q: Questionnaire) -> list[list[str]]:
    """Layer of each node = its longest distance from the start (the graph is acyclic)."""
    depth: dict[str, int] = {q.start: 0}
    order = [q.start]
    for node in order:  # grows while walking; revisits push a node deeper
        question = q.questions.get(node)
        if question is None:
            continue
        for option in question.options:
            if depth.get(option.next, -1) < depth[node] + 1:
                depth[option.next] = depth[node] + 1
                order.append(option.next)
    layers: list[list[str]] = [[] for _ in range(max(depth.values()) + 1)]
    for node, d in sorted(depth.items(), key=lambda kv: kv[0]):
        layers[d].append(node)
    return layers


def questionnaire_graph(q: Questionnaire) -> Markup:
    """A layered left-to-right drawing: questions as white boxes, verdicts coloured by kind."""
    layers = _layers(q)
    col_w, node_w, node_h, row_h = 250.0, 200.0, 44.0, 58.0
    pos: dict[str, tuple[float, float]] = {}
    for i, layer in enumerate(layers):
        for j, node in enumerate(layer):
            pos[node] = (10 + i * col_w, 10 + j * row_h)
    body: list[str] = []
    for node, (x, y) in pos.items():  # edges first, under the boxes
        question: Question | None = q.questions.get(node)
        if question is None:
            continue
        for option in question.options:
            if option.next not in pos:
                continue
            tx, ty = pos[option.next]
            body.append(
                f'<line x1="{x + node_w:.0f}" y1="{y + node_h / 2:.0f}" x2="{tx:.0f}" y2="{ty + node_h / 2:.0f}"'
                f' stroke="#90a4ae" stroke-width="1"><title>{escape(_short(option.label, 80))}</title></line>'
            )
    for node, (x, y) in pos.items():
        question = q.questions.get(node)
        verdict = q.verdicts.get(node)
        fill = VERDICT_COLOURS[verdict.kind] if verdict else "#ffffff"
        title = question.text if question else f"{node} ({verdict.kind.value if verdict else ''})"
        line2 = _short(question.text, 34) if question else (", ".join(verdict.sections) if verdict else "")
        body.append(
            f'<g><title>{escape(title)}</title><rect x="{x:.0f}" y="{y:.0f}" width="{node_w:.0f}" height="{node_h:.0f}"'
            f' rx="6" fill="{fill}" stroke="#455a64"/>'
            f'<text x="{x + 8:.0f}" y="{y + 17:.0f}" font-size="12" font-weight="bold">{escape(_short(node, 30))}</text>'
            f'<text x="{x + 8:.0f}" y="{y + 34:.0f}" font-size="11">{escape(_short(line2, 34))}</text></g>'
        )
    width = 20 + len(layers) * col_w
    height = 20 + max(len(layer) for layer in layers) * row_h
    return _svg(width, height, body, f"The questionnaire: {len(q.questions)} questions, {len(q.verdicts)} verdicts")
