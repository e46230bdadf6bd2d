"""Fit the matcher's score weights and the gate's thresholds on the development sets only.

    .venv/bin/python scripts/fit_gate.py [--dev SET ...] [--check SET ...]

The development sets (default: ../shared/eval/dev-questions.yaml, tests/data/tuning-eval.yaml and
tests/data/offtopic-fit.yaml, 180 hard off-topic questions) are the only ones used to choose.

For every weight combination it ranks each dev question once, then sweeps the gate thresholds
over the cached rankings. A question passes when the gate answers with an entry whose text
holds every keyword group; an off-topic question fails when the gate answers at all. The
objective is pass rate minus `FALSE_COST` times the false-answer rate. The sets given with
--check are scored with the winner and printed, never used to choose it. Paste the winner into
`Tuning` (matching.py) and `Thresholds` (gate.py).
"""

from __future__ import annotations

import argparse
import itertools
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import yaml

from pplbot.bench import _passes, default_dev_set
from pplbot.core.gate import Thresholds, decide
from pplbot.core.knowledge import KnowledgeBase
from pplbot.core.matching import Matcher, MatchKind, Tuning
from pplbot.core.normalizing import Normalizer
from pplbot.embedding import load_embedder
from pplbot.knowledge_files import bundled_knowledge_dir, load_knowledge

FALSE_COST = 3.0
DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
OFF_TOPIC = "off-topic"


@dataclass(frozen=True, slots=True)
class Row:
    """One question's ranking under one weight combination, reduced to what the gate reads."""

    in_scope: bool
    best_ok: bool  # the best entry's text passes the keyword groups (in scope) / is off-topic (out)
    score: float
    lead: float  # best score minus the best score of another topic
    coverage: float
    anchor: int
    semantic: float


def _entry_text(entry: object) -> str:
    from pplbot.core.knowledge import Entry
    from pplbot.core.texts import source_line

    assert isinstance(entry, Entry)
    return "\n\n".join([entry.answer, entry.more or "", source_line(entry.sources)])


def rows(matcher: Matcher, dev: dict[str, list[dict[str, object]]]) -> list[Row]:
    out = []
    items = [(True, i) for i in dev.get("in_scope", [])] + [(False, i) for i in dev.get("out_of_scope", [])]
    for in_scope, item in items:
        ranked, on_topic, _ = matcher._rank(str(item["q"]))
        if not ranked:
            out.append(Row(in_scope, False, 0.0, 0.0, 0.0, on_topic, 0.0))
            continue
        best = ranked[0]
        rival = next((c for c in ranked[1:] if not matcher._same_topic(best.entry, c.entry)), None)
        groups = item.get("must_mention_any", [])
        assert isinstance(groups, list)
        ok = _passes(_entry_text(best.entry), groups) if in_scope else OFF_TOPIC in best.entry.tags
        lead = best.score - (rival.score if rival else 0.0)
        out.append(Row(in_scope, ok, best.score, lead, best.coverage, on_topic, best.semantic or 0.0))
    return out


def sweep(table: list[Row]) -> tuple[float, Thresholds, float, float]:
    score = np.array([r.score for r in table])
    lead = np.array([r.lead for r in table])
    cov = np.array([r.coverage for r in table])
    sem = np.array([r.semantic for r in table])
    anchor = np.array([r.anchor for r in table])
    ok = np.array([r.best_ok for r in table])
    inside = np.array([r.in_scope for r in table])
    best: tuple[float, Thresholds, float, float] = (-9.0, Thresholds(), 0.0, 0.0)
    for strong, weak, none in itertools.product(np.arange(30, 72, 2), np.arange(36, 86, 2), np.arange(50, 92, 2.5)):
        if not strong <= weak <= none:
            continue
        cutoff = np.select([anchor == 2, anchor == 1], [strong, weak], none)
        passes_cut = score >= cutoff
        for m, c, sm in itertools.product((0, 2, 5), (0.0, 0.3), (0.0, 0.6)):
            answered = passes_cut & (lead >= m * (100 - score) / 50) & (cov >= c) & (sem >= sm)
            passed = (answered & ok & inside).sum() / max(inside.sum(), 1)
            false = (answered & ~ok & ~inside).sum() / max((~inside).sum(), 1)
            objective = passed - FALSE_COST * false
            if objective > best[0] + 1e-9:
                th = Thresholds(
                    float(strong),
                    float(weak),
                    float(none),
                    float(strong) * 0.75,
                    float(weak) * 0.76,
                    float(none) * 0.78,
                    float(m),
                    float(c),
                    float(sm),
                )
                best = (objective, th, float(passed), float(false))
    return best


def evaluate(matcher: Matcher, dev: dict[str, list[dict[str, object]]], th: Thresholds) -> tuple[float, float]:
    passed = false = 0
    for item in dev.get("in_scope", []):
        match = decide(*matcher._rank(str(item["q"])), th, matcher._same_topic)
        groups = item.get("must_mention_any", [])
        assert isinstance(groups, list)
        best = match.best
        if match.kind is MatchKind.ANSWER and best is not None and _passes(_entry_text(best.entry), groups):
            passed += 1
    for item in dev.get("out_of_scope", []):
        match = decide(*matcher._rank(str(item["q"])), th, matcher._same_topic)
        best = match.best
        false += match.kind is MatchKind.ANSWER and best is not None and OFF_TOPIC not in best.entry.tags
    return passed / max(len(dev.get("in_scope", [])), 1), false / max(len(dev.get("out_of_scope", [])), 1)


def fit(kb: KnowledgeBase, dev_paths: list[Path], checks: list[Path], semantic: bool = True) -> int:
    dev: dict[str, list[dict[str, object]]] = {"in_scope": [], "out_of_scope": []}
    for path in dev_paths:
        part = yaml.safe_load(path.read_text(encoding="utf-8"))
        for key in dev:
            dev[key] += part.get(key, [])
    embedder = load_embedder() if semantic else None
    normalizer = Normalizer(kb.vocabulary)
    winner: tuple[float, Tuning, Thresholds, float, float] | None = None
    semantic_weights = (0.4, 0.5, 0.6) if embedder is not None else (0.0,)
    for pw, fw, sw in itertools.product((0.1, 0.2), (0.1, 0.2), semantic_weights):
        tuning = replace(
            Tuning(),
            phrase_weight=pw,
            fuzz_weight=fw,
            entry_weight=round(1 - pw - fw, 2),
            semantic_weight=sw,
        )
        matcher = Matcher(kb.entries, normalizer, embedder, tuning=tuning)
        objective, th, passed, false = sweep(rows(matcher, dev))
        if winner is None or objective > winner[0]:
            winner = (objective, tuning, th, passed, false)
            print(f"  better: {tuning} {th} dev pass {passed:.1%} false {false:.1%}", flush=True)
    assert winner is not None
    _, tuning, th, passed, false = winner
    print(f"\nwinner on {', '.join(p.name for p in dev_paths)}: pass {passed:.1%}, false answers {false:.1%}")
    print(f"  {tuning}\n  {th}")
    matcher = Matcher(kb.entries, normalizer, embedder, th, tuning)
    for path in checks:
        check = yaml.safe_load(path.read_text(encoding="utf-8"))
        p, f = evaluate(matcher, check, th)
        print(f"  check {path.name} (not used to fit): pass {p:.1%}, false answers {f:.1%}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--knowledge", type=Path, default=bundled_knowledge_dir())
    parser.add_argument(
        "--dev",
        type=Path,
        nargs="+",
        default=[default_dev_set(), DATA / "tuning-eval.yaml", DATA / "offtopic-fit.yaml"],
    )
    parser.add_argument("--check", type=Path, nargs="*", default=[])
    parser.add_argument("--no-semantic", action="store_true")
    args = parser.parse_args()
    return fit(load_knowledge(args.knowledge), args.dev, args.check, not args.no_semantic)


if __name__ == "__main__":
    sys.exit(main())
