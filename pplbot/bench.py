"""`pplbot bench`: retrieval quality on the dev set next to a naive baseline, and speed.

Quality (same run, same replies): in-scope pass rate (answered and the reply contains one
keyword of every group), out-of-scope false-answer rate, suggestion rate; for pplbot and for
a baseline of rapidfuzz `process.extractOne(fuzz.WRatio)` over the raw phrases with a fixed
cutoff. Speed: p50/p99 per question, load-and-index time and RSS, on the bundled knowledge
base and on generated ones of 1,000 and 10,000 entries (~8 phrases each).
"""

from __future__ import annotations

import gc
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml
from rapidfuzz import fuzz, process

from pplbot.core.bot import Bot
from pplbot.core.knowledge import Entry, KnowledgeBase
from pplbot.core.messages import Incoming, ReplyKind
from pplbot.core.sessions import Session, SessionKey
from pplbot.core.texts import source_line

__all__ = ["Quality", "evaluate", "rss_mb", "run_bench", "synthetic_entries"]

BASELINE_CUTOFF = 75.0


@dataclass(frozen=True, slots=True)
class Quality:
    in_scope_pass: float
    out_of_scope_false: float
    suggestion_rate: float
    failures: tuple[str, ...]


def _passes(reply: str, groups: list[list[str]]) -> bool:
    low = reply.lower()
    return all(any(str(k).lower() in low for k in group) for group in groups)


def default_dev_set() -> Path:
    for base in (Path.cwd(), Path(__file__).resolve().parents[1]):
        candidate = base.parent / "shared" / "eval" / "dev-questions.yaml"
        if candidate.exists():
            return candidate
    return Path("../shared/eval/dev-questions.yaml")


def _incoming(text: str, n: int) -> Incoming:
    return Incoming("bench", "bench", f"u{n}", text, datetime(2026, 1, 1, tzinfo=UTC))


def evaluate(bot: Bot, dev: dict[str, list[dict[str, object]]]) -> Quality:
    """Score the bot the way `pplbot ask --json` answers (fresh session per question)."""

    def ask(text: str, n: int) -> tuple[bool, bool, str]:
        incoming = _incoming(text, n)
        turn = bot.handle(Session(SessionKey.of(incoming)), incoming)
        kinds = {r.kind for r in turn.replies}
        return ReplyKind.ANSWER in kinds, ReplyKind.SUGGEST in kinds, "\n\n".join(r.text for r in turn.replies)

    return _score(ask, dev)


Ask = Callable[[str, int], tuple[bool, bool, str]]  # question, n -> (answered, suggested, reply)


def _score(ask: Ask, dev: dict[str, list[dict[str, object]]]) -> Quality:
    in_scope, out_scope = dev.get("in_scope", []), dev.get("out_of_scope", [])
    passed = suggested = false_answers = 0
    failures = []
    for n, item in enumerate(in_scope):
        answered, suggest, reply = ask(str(item["q"]), n)
        groups = item.get("must_mention_any", [])
        assert isinstance(groups, list)
        if answered and _passes(reply, groups):
            passed += 1
        else:
            failures.append(f"in  {'answered' if answered else 'suggest ' if suggest else 'fallback'}: {item['q']}")
        suggested += suggest
    for n, item in enumerate(out_scope):
        answered, suggest, _ = ask(str(item["q"]), n)
        false_answers += answered
        suggested += suggest
        if answered:
            failures.append(f"out answered: {item['q']}")
    total = max(len(in_scope) + len(out_scope), 1)
    return Quality(
        passed / max(len(in_scope), 1), false_answers / max(len(out_scope), 1), suggested / total, tuple(failures)
    )


def baseline(kb: KnowledgeBase, dev: dict[str, list[dict[str, object]]]) -> Quality:
    """rapidfuzz extractOne with WRatio over the raw phrases, fixed cutoff, no margin."""
    phrases = [(p, e) for e in kb.entries for p in e.questions]
    choices = [p for p, _ in phrases]

    def ask(text: str, n: int) -> tuple[bool, bool, str]:
        found = process.extractOne(text, choices, scorer=fuzz.WRatio, score_cutoff=BASELINE_CUTOFF)
        if found is None:
            return False, False, ""
        entry = phrases[found[2]][1]
        reply = entry.answer + ("\n\n" + entry.more if entry.more else "") + "\n\n" + source_line(entry.sources)
        return True, False, reply

    return _score(ask, dev)


# ------------------------------------------------------------------ speed
_SYLLABLES = "ka lo mi ne su ta ri po ve da fo gu le ma ni ro sa te vi zo ba ce di fe ga hi jo ku".split()


def synthetic_entries(count: int, phrases: int = 8, seed: int = 7) -> list[Entry]:
    rng = random.Random(seed)
    vocab = sorted({"".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))) for _ in range(count * 3 + 500)})
    common = vocab[:200]
    entries = []
    for i in range(count):
        topic = rng.sample(vocab, 4)
        qs = []
        for _ in range(phrases):
            words = rng.sample(topic, rng.randint(2, 3)) + rng.sample(common, rng.randint(2, 5))
            rng.shuffle(words)
            qs.append(" ".join(words))
        entries.append(Entry(f"e{i}", tuple(dict.fromkeys(qs)), f"answer {i} " + " ".join(topic), ("PPL 3",)))
    return entries


def _queries(entries: list[Entry], n: int, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words = rng.choice(rng.choice(entries).questions).split()
        rng.shuffle(words)
        if len(words) > 3:
            words.pop()
        if words and rng.random() < 0.5:  # a typo
            w = words[0]
            words[0] = w[:-1] + "x" if len(w) > 3 else w
        out.append(" ".join(words))
    return out


def rss_mb(pid: int | str = "self") -> float:
    """Resident memory of a process in MB (Linux /proc; 0 if the process is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def _latency(bot: Bot, queries: list[str]) -> tuple[float, float]:
    times = []
    for n, q in enumerate(queries):
        incoming = _incoming(q, n)
        session = Session(SessionKey.of(incoming))
        start = time.perf_counter()
        bot.handle(session, incoming)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


def _speed_row(label: str, entries: list[Entry], queries: list[str] | None) -> str:
    gc.collect()
    before = rss_mb()
    start = time.perf_counter()
    kb = KnowledgeBase.of(tuple(entries))
    bot = Bot(kb)
    load = time.perf_counter() - start
    gc.collect()
    rss = rss_mb()
    qs = queries or _queries(entries, 500)
    p50, p99 = _latency(bot, qs)
    return f"  {label:<22} {len(entries):>6} {bot.matcher.phrase_count:>8} {load:>8.3f} s {p50:>7.2f} {p99:>7.2f} ms {rss:>7.1f} MB (+{rss - before:.1f})"


def run_bench(kb: KnowledgeBase, dev_set: Path | None = None, *, quick: bool = False, verbose: bool = True) -> int:
    path = dev_set or default_dev_set()
    try:
        dev = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        print(f"pplbot bench: cannot read the dev set {path}: {exc.strerror}")
        return 1
    bot = Bot(kb)
    ours = evaluate(bot, dev)
    base = baseline(kb, dev)
    n_in, n_out = len(dev.get("in_scope", [])), len(dev.get("out_of_scope", []))
    print(f"Retrieval quality on {path.name}: {n_in} in-scope, {n_out} out-of-scope questions")
    print(f"  {'':<34} {'pplbot':>8} {'baseline':>9}")
    print(f"  {'in-scope pass rate':<34} {ours.in_scope_pass:>8.1%} {base.in_scope_pass:>9.1%}")
    print(f"  {'out-of-scope false-answer rate':<34} {ours.out_of_scope_false:>8.1%} {base.out_of_scope_false:>9.1%}")
    print(f"  {'suggestion rate (all questions)':<34} {ours.suggestion_rate:>8.1%} {base.suggestion_rate:>9.1%}")
    if base.in_scope_pass:
        print(f"  gain in pass rate: x{ours.in_scope_pass / base.in_scope_pass:.2f}")
    print(f"  (baseline: rapidfuzz extractOne, fuzz.WRatio over raw phrases, cutoff {BASELINE_CUTOFF:g})")
    if verbose and ours.failures:
        print("  misses:")
        for failure in ours.failures:
            print("   ", failure)
    print("\nSpeed (one core; p50/p99 of Bot.handle per question; RSS of this process)")
    print(
        f"  {'knowledge base':<22} {'entries':>6} {'phrases':>8} {'load+index':>10} {'p50':>7} {'p99':>10} {'RSS':>10}"
    )
    dev_queries = [str(i["q"]) for i in dev.get("in_scope", []) + dev.get("out_of_scope", [])]
    print(_speed_row("bundled (dev questions)", list(kb.entries), dev_queries * 5))
    sizes = (1000,) if quick else (1000, 10000)
    for size in sizes:
        print(_speed_row(f"synthetic {size}", synthetic_entries(size), None))
    return 0
