"""Rank quality without any evaluation set: hold out paraphrases of the knowledge base itself.

    .venv/bin/python scripts/holdout_rank.py [--folds 3] [--semantic-weight 0.4 ...]

For each fold, one paraphrase per entry (chosen at random, seeded) is removed from the knowledge
base; the matcher is built on the rest and asked the removed paraphrases. Prints how often the
entry the paraphrase belongs to ranks first, and in the top 3, per language. Used to choose the
score weights in `Tuning` from the knowledge base alone (the question sets stay for checking).
"""

from __future__ import annotations

import argparse
import random
import sys
from dataclasses import replace
from pathlib import Path

from pplbot.core.knowledge import KnowledgeBase
from pplbot.core.matching import Matcher, Tuning
from pplbot.core.normalizing import Normalizer
from pplbot.embedding import load_embedder
from pplbot.knowledge_files import bundled_knowledge_dir, load_knowledge


def folds(kb: KnowledgeBase, n: int, seed: int = 3) -> list[tuple[list[object], list[tuple[str, str]]]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        kept, held = [], []
        for entry in kb.entries:
            if "off-topic" in entry.tags or len(entry.questions) < 4:
                kept.append(entry)
                continue
            i = rng.randrange(len(entry.questions))
            held.append((entry.questions[i], entry.id))
            kept.append(replace(entry, questions=entry.questions[:i] + entry.questions[i + 1 :]))
        out.append((kept, held))
    return out


def evaluate(kb: KnowledgeBase, tuning: Tuning, n_folds: int) -> dict[str, tuple[int, int, int]]:
    embedder = load_embedder()
    normalizer = Normalizer(kb.vocabulary)
    stats: dict[str, list[int]] = {}
    for kept, held in folds(kb, n_folds):
        matcher = Matcher(kept, normalizer, embedder, tuning=tuning)  # type: ignore[arg-type]
        for question, entry_id in held:
            ranked, _, _ = matcher._rank(question)
            lang = normalizer.language(question)
            row = stats.setdefault(lang, [0, 0, 0])
            ids = [c.entry.id for c in ranked[:3]]
            row[0] += bool(ids) and ids[0] == entry_id
            row[1] += entry_id in ids
            row[2] += 1
    return {k: (v[0], v[1], v[2]) for k, v in stats.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--knowledge", type=Path, default=bundled_knowledge_dir())
    parser.add_argument("--folds", type=int, default=3)
    args = parser.parse_args()
    kb = load_knowledge(args.knowledge)
    grid = [Tuning()] + [
        replace(Tuning(), phrase_weight=pw, entry_weight=round(1 - pw - fw, 2), fuzz_weight=fw, semantic_weight=sw)
        for pw, fw, sw in [
            (0.2, 0.1, 0.4),
            (0.3, 0.1, 0.4),
            (0.3, 0.2, 0.3),
            (0.4, 0.1, 0.3),
            (0.2, 0.1, 0.6),
            (0.5, 0.1, 0.4),
        ]
    ]
    for tuning in grid:
        stats = evaluate(kb, tuning, args.folds)
        top1 = sum(v[0] for v in stats.values()) / sum(v[2] for v in stats.values())
        per = " ".join(f"{k} {v[0] / v[2]:.0%}/{v[1] / v[2]:.0%} (n={v[2]})" for k, v in sorted(stats.items()))
        print(
            f"pw={tuning.phrase_weight} ew={tuning.entry_weight} fw={tuning.fuzz_weight} sw={tuning.semantic_weight}: top1 {top1:.1%}  {per}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
