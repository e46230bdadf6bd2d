"""How questionnaire steps look as replies (text, options and structured data)."""

from __future__ import annotations

from pplbot.core.knowledge import Questionnaire, VerdictKind
from pplbot.core.messages import Option, Reply, ReplyKind
from pplbot.core.questionnaire import Ask, Done, Invalid, button_value

__all__ = ["HINT", "VERDICT_TITLES", "ask_reply", "done_reply", "invalid_reply"]

VERDICT_TITLES = {
    VerdictKind.PERMITTED: "Permitted",
    VerdictKind.PERMITTED_WITH_CONDITIONS: "Permitted, with conditions",
    VerdictKind.NOT_PERMITTED: "Not permitted",
    VerdictKind.NEEDS_SEPARATE_PERMISSION: "Needs separate permission from the licensor",
    VerdictKind.UNCLEAR: "Unclear: the licence text does not settle it",
}

HINT = "Answer with a number or the option's words; you can also say back, why, restart or cancel."


def ask_reply(ask: Ask, reply_to: str | None = None, prefix: str = "") -> Reply:
    q = ask.question
    return Reply(
        f"{prefix}**Question {ask.number} of at most {ask.at_most}:** {q.text}",
        ReplyKind.QUESTION,
        tuple(Option(o.label, button_value(q.id, i)) for i, o in enumerate(q.options)),
        reply_to,
        data={"type": "question", "id": q.id, "text": q.text, "options": [o.label for o in q.options]},
    )


def invalid_reply(invalid: Invalid, reply_to: str | None = None) -> tuple[Reply, Reply]:
    refused = Reply(
        invalid.message, ReplyKind.INVALID, reply_to=reply_to, data={"type": "invalid", "text": invalid.message}
    )
    return refused, ask_reply(invalid.ask, reply_to)


def done_reply(form: Questionnaire, done: Done, reply_to: str | None = None) -> Reply:
    v = done.verdict
    sections = ", ".join(f"§{s}" for s in v.sections)
    lines = [f"**Verdict: {VERDICT_TITLES[v.kind]}.** {v.summary}", "", f"**Why:** {v.why} (PPL {sections})"]
    if v.conditions:
        lines += ["", "**Conditions that still apply:**", *(f"• {c}" for c in v.conditions)]
    lines += ["", f"**What to do next:** {v.next_steps}", "", "**Your answers:**"]
    lines += [f"{i}. {q.text} → {q.options[idx].label}" for i, (q, idx) in enumerate(done.path, 1)]
    lines += ["", f"_{form.disclaimer}_"]
    text = "\n".join(lines)
    return Reply(
        text,
        ReplyKind.VERDICT,
        reply_to=reply_to,
        data={
            "type": "verdict",
            "verdict": v.kind.value,
            "sections": list(v.sections),
            "conditions": list(v.conditions),
            "text": text,
        },
    )
