"""How questionnaire steps look as replies (text, options and structured data).

A verdict is short enough for a group chat (at most 120 words, a test measures every path):
the verdict and one sentence why, only the conditions this path needs, the next step, the
answers that decided it, and how to change them. The full reasoning comes on `why` or `more`.
"""

from __future__ import annotations

from pplbot.core.knowledge import Answer, Questionnaire, VerdictKind
from pplbot.core.messages import Option, Reply, ReplyKind
from pplbot.core.questionnaire import Ask, Done, Invalid, button_value

__all__ = [
    "CONTROLS",
    "HINT",
    "VERDICT_TITLES",
    "ask_reply",
    "detail_reply",
    "done_reply",
    "invalid_reply",
    "understood_line",
]

VERDICT_TITLES = {
    VerdictKind.PERMITTED: "Permitted",
    VerdictKind.PERMITTED_WITH_CONDITIONS: "Permitted, with conditions",
    VerdictKind.NOT_PERMITTED: "Not permitted",
    VerdictKind.NEEDS_SEPARATE_PERMISSION: "Needs separate permission from the licensor",
    VerdictKind.UNCLEAR: "Unclear: the licence text does not settle it",
}

HINT = "Answer with a number or in your own words; you can also say back, why, restart or cancel."
CONTROLS = "Not legal advice. **why**: reasons; **back**: change an answer; **restart**: start over."


def understood_line(option: Answer) -> str:
    """'→ Copy, share, publish, perform or sell it unchanged': what a typed answer was read as."""
    label = option.label.split(" (")[0].rstrip(":;,. ")
    return f"→ {label}"


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


def done_reply(done: Done, reply_to: str | None = None, prefix: str = "") -> Reply:
    v = done.verdict
    lines = [f"{prefix}**{VERDICT_TITLES[v.kind]}.** {v.why}"]
    conditions = done.conditions
    if conditions:
        lines += ["", "**Conditions:**", *(f"• {c}" for c in conditions)]
    lines += ["", f"**Next:** {v.next_steps}"]
    lines += ["", "_Because you said: " + "; ".join(o.echo for o in done.chosen) + "._", CONTROLS]
    text = "\n".join(lines)
    return Reply(
        text,
        ReplyKind.VERDICT,
        reply_to=reply_to,
        data={
            "type": "verdict",
            "verdict": v.kind.value,
            "id": v.id,
            "sections": list(v.sections),
            "conditions": list(conditions),
            "text": text,
        },
    )


def detail_reply(form: Questionnaire, done: Done, reply_to: str | None = None) -> Reply:
    """The full reasoning of a verdict, with every answer given (on `why` or `more`)."""
    v = done.verdict
    sections = ", ".join(f"§{s}" for s in v.sections)
    lines = [f"**Why ({VERDICT_TITLES[v.kind].lower()}):** {v.why}", "", v.detail, f"(PPL {sections})", ""]
    lines += ["**Your answers:**"]
    lines += [f"{i}. {q.text} → {q.options[idx].label}" for i, (q, idx) in enumerate(done.path, 1)]
    lines += ["", f"_{form.disclaimer}_"]
    return Reply("\n".join(lines), ReplyKind.INFO, reply_to=reply_to)
