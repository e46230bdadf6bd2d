"""`pplbot kb lint`: phrases that sit too close to another entry's, entries with few phrases, and
entries whose paraphrases ask opposite things ("can I ...?" next to "does ... ban ...?") and whose
answer opens with a verdict ("You can ...") instead of the rule, which serves only one of them."""

from __future__ import annotations

import re
from pathlib import Path

from rapidfuzz import fuzz, process

from pplbot.core.normalizing import Normalizer
from pplbot.errors import KnowledgeError
from pplbot.knowledge_files import load_knowledge

__all__ = ["MIN_PARAPHRASES", "NEAR", "lint", "near_duplicates", "opposite_polarity", "polarity", "verdict_lead"]

NEAR = 90
MIN_PARAPHRASES = 5


def near_duplicates(
    pairs: list[tuple[str, str]], normalizer: Normalizer | None = None
) -> list[tuple[str, str, str, str, float]]:
    """(entry a, phrase a, entry b, phrase b, score) for phrases of different entries that are near-equal."""
    normalize = (normalizer or Normalizer()).tokens
    norms = [" ".join(normalize(p)) for _, p in pairs]
    out = []
    for i, text in enumerate(norms):
        if not text:
            continue
        for _, score, j in process.extract(text, norms, scorer=fuzz.token_sort_ratio, score_cutoff=NEAR, limit=None):
            if i < j and pairs[i][0] != pairs[j][0]:
                out.append((pairs[i][0], pairs[i][1], pairs[j][0], pairs[j][1], float(score)))
    return sorted(out, key=lambda r: -r[4])


# "May I?" questions (a yes means: allowed) in the five languages ...
_PERMISSION = re.compile(
    r"\b(can|could|may|allowed|permitted|ok|okay|fine|legal|puedo|podemos|puede|pueden|se puede|permitido|"
    r"darf|darfst|dürfen|durfen|kann|können|konnen|erlaubt|peux|peut|pouvons|peuvent|autorisé|autorise|permis|"
    r"posso|podemos|pode|podem|permitido)\b",
    re.IGNORECASE,
)
# ... and "is it banned / required?" questions (a yes means: not allowed, or a duty).
_PROHIBITION = re.compile(
    r"\b(ban|bans|banned|forbid|forbids|forbidden|prohibit|prohibits|prohibited|bar|bars|barred|must|need|needs|"
    r"have to|has to|required?|requires|obliged?|break|breaks|violate|violates|infringe|illegal|exclude|excludes|"
    r"prohíbe|prohibe|prohibido|tengo que|hay que|obligatorio|verbietet|verboten|muss|müssen|mussen|pflicht|"
    r"interdit|interdire|il faut|obligatoire|proíbe|proibe|proibido|preciso|tenho que|obrigatório|obrigatorio)\b",
    re.IGNORECASE,
)


def polarity(phrase: str) -> str | None:
    """'permission', 'prohibition', or None when a phrase is neither (or both) kinds of question."""
    may, must = bool(_PERMISSION.search(phrase)), bool(_PROHIBITION.search(phrase))
    if may == must:
        return None
    return "permission" if may else "prohibition"


# A lead that answers one kind of question with a verdict ("You can ...", "It is not allowed ..."),
# which turns into the wrong answer for a paraphrase of the other kind. A lead that states the rule
# ("Section 4(d) bars ...", "Whether X may ... depends on ...") serves both.
_VERDICT_LEAD = re.compile(
    r"^\W*(?:(?:you|we|i|they|it|that|this|doing so|both)\s+"
    r"(?:can(?:not|'t)?|could|may(?: not)?|must(?: not)?|need(?:s)?(?: not)?|do(?:es)?(?:n't| not) need|"
    r"(?:is|are)(?:n't| not)?\s+(?:allowed|permitted|fine|ok(?:ay)?|banned|forbidden|prohibited|required|legal))|"
    r"(?:not|only|allowed|permitted|banned|forbidden|prohibited|fine|sure|of course|absolutely|correct|right|"
    r"true|false|nope|yep|yeah)\b)",
    re.IGNORECASE,
)


def verdict_lead(answer: str) -> bool:
    """True when an answer opens with a verdict for one kind of question instead of the rule."""
    return bool(_VERDICT_LEAD.match(answer))


def opposite_polarity(questions: tuple[str, ...]) -> tuple[str, str] | None:
    """A pair of paraphrases of one entry that ask opposite things, if there is one."""
    may = next((q for q in questions if polarity(q) == "permission"), None)
    must = next((q for q in questions if polarity(q) == "prohibition"), None)
    return (may, must) if may and must else None


def lint(directory: Path) -> int:
    try:
        kb = load_knowledge(directory)
    except KnowledgeError as exc:
        for issue in exc.issues:
            print(issue)
        return 1
    pairs = [(e.id, q) for e in kb.entries for q in e.questions]
    findings = 0
    for a, pa, b, pb, score in near_duplicates(pairs, Normalizer(kb.vocabulary)):
        findings += 1
        print(f"near-duplicate ({score:.0f}): {a}: {pa!r} ~ {b}: {pb!r}")
    for entry in kb.entries:
        if len(entry.questions) < MIN_PARAPHRASES:
            findings += 1
            print(
                f"{entry.file}:{entry.line}: {entry.id}: only {len(entry.questions)} paraphrase(s); write at least {MIN_PARAPHRASES}"
            )
    for entry in kb.entries:
        pair = opposite_polarity(entry.questions)
        if pair is not None and verdict_lead(entry.answer):
            findings += 1
            lead = " ".join(entry.answer.split()[:4])
            print(
                f"{entry.file}:{entry.line}: {entry.id}: paraphrases of opposite polarity, {pair[0]!r} vs {pair[1]!r}, "
                f"and the answer opens with a verdict ({lead!r} ...): state the rule in the lead, or split the entry"
            )
    print(f"{findings} finding(s) in {len(kb.entries)} entries")
    return 1 if findings else 0
