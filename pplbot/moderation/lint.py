"""`pplbot kb lint`: phrases that sit too close to another entry's, and entries with few phrases."""

from __future__ import annotations

from pathlib import Path

from rapidfuzz import fuzz, process

from pplbot.core.normalizing import normalize
from pplbot.errors import KnowledgeError
from pplbot.knowledge_files import load_knowledge

__all__ = ["MIN_PARAPHRASES", "NEAR", "lint", "near_duplicates"]

NEAR = 90
MIN_PARAPHRASES = 5


def near_duplicates(pairs: list[tuple[str, str]]) -> list[tuple[str, str, str, str, float]]:
    """(entry a, phrase a, entry b, phrase b, score) for phrases of different entries that are near-equal."""
    norms = [" ".join(normalize(p)) for _, p in pairs]
    out = []
    for i, norm in enumerate(norms):
        if not norm:
            continue
        for _, score, j in process.extract(norm, norms, scorer=fuzz.token_sort_ratio, score_cutoff=NEAR, limit=None):
            if i < j and pairs[i][0] != pairs[j][0]:
                out.append((pairs[i][0], pairs[i][1], pairs[j][0], pairs[j][1], float(score)))
    return sorted(out, key=lambda r: -r[4])


def lint(directory: Path) -> int:
    try:
        kb = load_knowledge(directory)
    except KnowledgeError as exc:
        for issue in exc.issues:
            print(issue)
        return 1
    pairs = [(e.id, q) for e in kb.entries for q in e.questions]
    findings = 0
    for a, pa, b, pb, score in near_duplicates(pairs):
        findings += 1
        print(f"near-duplicate ({score:.0f}): {a}: {pa!r} ~ {b}: {pb!r}")
    for entry in kb.entries:
        if len(entry.questions) < MIN_PARAPHRASES:
            findings += 1
            print(
                f"{entry.file}:{entry.line}: {entry.id}: only {len(entry.questions)} paraphrase(s); write at least {MIN_PARAPHRASES}"
            )
    print(f"{findings} finding(s) in {len(kb.entries)} entries")
    return 1 if findings else 0
