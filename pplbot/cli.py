"""Command line: the composition root that builds settings, knowledge, store, bot and adapters.

pplbot chat                      terminal chat (the default)
pplbot ask [--json] QUESTION...  answer questions (`-` reads one per line from stdin)
pplbot quiz [--json] [--answers "2,1,yes"]
pplbot check [DIR]               validate a knowledge folder
pplbot config check              show effective settings, secrets masked
pplbot run                       connect to the configured networks
pplbot bench                     retrieval quality and speed on the dev set
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pplbot.app import compose
from pplbot.config import Settings, load_settings
from pplbot.core.bot import Bot, BotOptions
from pplbot.core.knowledge import KnowledgeBase
from pplbot.core.messages import ReplyKind
from pplbot.embedding import load_embedder
from pplbot.errors import ConfigError, KnowledgeError, PplbotError, StoreError
from pplbot.knowledge_files import load_knowledge
from pplbot.logs import setup_logging
from pplbot.service import Service
from pplbot.store import MemoryStore, SqliteStore
from pplbot.transports.console import ConsoleChat, readline_input, render, to_incoming

__all__ = ["main"]

logger = logging.getLogger("pplbot")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pplbot", description="Answers questions about the Peer Production License.")
    parser.add_argument("--config", type=Path, help="YAML settings file (or PPLBOT_CONFIG)")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("chat", help="interactive terminal chat (default)")
    ask = sub.add_parser("ask", help="answer questions and exit")
    ask.add_argument("--json", action="store_true", help="one JSON object per question")
    ask.add_argument("questions", nargs="+", help="questions, or - to read one per line from stdin")
    q = sub.add_parser("quiz", help="play the questionnaire")
    q.add_argument("--json", action="store_true", help="one JSON object per line")
    q.add_argument("--answers", help='comma-separated answers, e.g. "2,1,yes"')
    check = sub.add_parser("check", help="validate a knowledge folder")
    check.add_argument("directory", nargs="?", type=Path)
    cfg = sub.add_parser("config", help="configuration tools")
    cfg.add_argument("action", choices=["check"])
    sub.add_parser("run", help="connect to the configured networks (Matrix, Telegram)")
    kb = sub.add_parser("kb", help="knowledge-base maintenance")
    kb.add_argument("action", choices=["lint"])
    kb.add_argument("directory", nargs="?", type=Path)
    bench = sub.add_parser("bench", help="measure retrieval quality and speed")
    bench.add_argument(
        "--dev-set",
        type=Path,
        nargs="+",
        help="question sets, the first used for tuning (default: ../shared/eval/dev-questions.yaml, "
        "tests/data/second-eval.yaml, tests/data/third-eval.yaml, tests/data/fourth-eval.yaml, tests/data/fifth-eval.yaml)",
    )
    bench.add_argument("--verbose", action="store_true", help="list the questions pplbot missed")
    bench.add_argument("--quick", action="store_true", help="skip the 10,000-entry synthetic run")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    command = args.command or "chat"
    try:
        settings = load_settings(file=args.config)
    except ConfigError as exc:
        print(f"pplbot: configuration error: {exc}", file=sys.stderr)
        return 2
    secrets = [
        settings.telegram_token,
        settings.matrix_password,
        settings.matrix_access_token,
        settings.telegram_webhook_secret,
    ]
    setup_logging(settings.log_level, settings.log_format, [s for s in secrets if s])
    try:
        if command == "check":
            return _check(args.directory or settings.knowledge_dir)
        if command == "config":
            for name, value in settings.describe().items():
                print(f"{name} = {value}")
            return 0
        if command == "run":
            from pplbot.runner import run

            return run(settings)
        if command == "kb":
            from pplbot.moderation.lint import lint

            return lint(args.directory or settings.knowledge_dir)
        if command == "chat":
            return _chat(settings)
        kb = _knowledge(settings)
        if command == "ask":
            return _ask(kb, settings, args.questions, args.json)
        if command == "quiz":
            return _quiz(kb, settings, args.answers, args.json)
        from pplbot.bench import run_bench

        return run_bench(kb, args.dev_set, quick=args.quick, verbose=args.verbose, knowledge=settings.knowledge_dir)
    except KnowledgeError as exc:
        print(f"pplbot: the knowledge base has {len(exc.issues)} problem(s):", file=sys.stderr)
        for issue in exc.issues:
            print(f"  {issue}", file=sys.stderr)
        return 1
    except PplbotError as exc:
        print(f"pplbot: {exc}", file=sys.stderr)
        return 1


def _knowledge(settings: Settings) -> KnowledgeBase:
    if not settings.knowledge_dir.is_dir():
        raise ConfigError(f"PPLBOT_KNOWLEDGE_DIR: {settings.knowledge_dir} is not a folder")
    return load_knowledge(settings.knowledge_dir)


def bot_for(kb: KnowledgeBase, settings: Settings, *, detail_on_request: bool = True) -> Bot:
    options = BotOptions(
        quiz_idle=timedelta(minutes=settings.quiz_idle_minutes),
        detail_on_request=detail_on_request,
        embedder=load_embedder(cache_dir=settings.data_dir),
    )
    return Bot(kb, options)


def _check(directory: Path) -> int:
    if not directory.is_dir():
        print(f"pplbot check: {directory} is not a folder", file=sys.stderr)
        return 1
    try:
        kb = load_knowledge(directory)
    except KnowledgeError as exc:
        for issue in exc.issues:
            print(issue)
        print(f"{len(exc.issues)} problem(s) found", file=sys.stderr)
        return 1
    q = kb.questionnaire
    quiz = f", questionnaire: {len(q.questions)} questions, {len(q.verdicts)} verdicts" if q else ", no questionnaire"
    print(f"ok: {len(kb.entries)} entries, {kb.phrase_count} phrases{quiz} (version {kb.version})")
    return 0


def _ask(kb: KnowledgeBase, settings: Settings, questions: list[str], as_json: bool) -> int:
    # one-shot answers for scripts: the whole answer at once, `more` included
    service = Service(bot_for(kb, settings, detail_on_request=False), MemoryStore())
    lines = sys.stdin if questions == ["-"] else questions
    for n, raw in enumerate(lines):
        question = raw.rstrip("\n")
        if questions == ["-"] and not question.strip():
            continue
        incoming = to_incoming(question, user=f"ask-{n}", number=n + 1)
        replies = service.handle(incoming)
        text = "\n\n".join(render(r) for r in replies)
        if not as_json:
            print(text + "\n")
            continue
        main_reply = next(
            (r for r in replies if r.kind in {ReplyKind.ANSWER, ReplyKind.SUGGEST, ReplyKind.FALLBACK}), None
        )
        answered = main_reply is not None and main_reply.kind is ReplyKind.ANSWER
        record = {
            "question": question,
            "answered": answered,
            "entry": main_reply.entry_id if answered and main_reply else None,
            "score": main_reply.score if main_reply else None,
            "suggestions": list(main_reply.suggestions) if main_reply else [],
            "reply": text,
        }
        print(json.dumps(record, ensure_ascii=False), flush=True)
    return 0


def _quiz(kb: KnowledgeBase, settings: Settings, answers: str | None, as_json: bool) -> int:
    if kb.questionnaire is None:
        print("pplbot quiz: the knowledge base has no questionnaire", file=sys.stderr)
        return 1
    service = Service(bot_for(kb, settings), MemoryStore())
    now = datetime.now(UTC)
    inputs = ["/quiz"] + ([a.strip() for a in answers.split(",")] if answers is not None else [])
    for n, text in enumerate(inputs):
        for reply in service.handle(to_incoming(text, number=n + 1, now=now)):
            if as_json:
                if reply.data is not None:
                    print(json.dumps(reply.data, ensure_ascii=False))
            else:
                print(render(reply) + "\n")
    return 0


def _chat(settings: Settings) -> int:
    try:
        store: SqliteStore | MemoryStore = SqliteStore(settings.database)
    except StoreError as exc:
        print(f"pplbot: {exc}; continuing without saving state", file=sys.stderr)
        store = MemoryStore()
    service, live = compose(settings, store)
    local_web = None
    if isinstance(store, SqliteStore):
        from pplbot.web.local import LocalWeb

        local_web = LocalWeb(service, live, store, settings)
        local_web.install()
    chat = ConsoleChat(service, readline_input(settings.data_dir / "history"), sys.stdout, live=live)
    greeting = (
        f"pplbot — questions about the Peer Production License ({len(live.current.kb.entries)} answers loaded).\n"
        "Ask a question, type quiz to check your use of a PPL work, help for more, quit to leave."
    )
    try:
        return chat.run(greeting)
    finally:
        if local_web is not None:
            local_web.close()
        store.close()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
