"""The command line as users and evaluation tools call it."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from pplbot.cli import main
from tests.conftest import KNOWLEDGE


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in list(__import__("os").environ):
        if key.startswith("PPLBOT_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("PPLBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PPLBOT_LOG_LEVEL", "WARNING")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_check_passes_on_the_bundled_knowledge(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", str(KNOWLEDGE))
    assert code == 0
    assert out.startswith("ok: ") and "entries" in out and "phrases" in out and len(out.splitlines()) == 1


def test_check_reports_every_problem_and_exits_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    kb = tmp_path / "knowledge"
    (kb / "faq").mkdir(parents=True)
    (kb / "faq" / "a.yaml").write_text("entries:\n  - id: a\n    questions: [x]\n    anwser: yes\n", encoding="utf-8")
    (kb / "faq" / "b.yaml").write_text("entries: [\n", encoding="utf-8")
    code, out, err = run(capsys, "check", str(kb))
    assert code == 1
    lines = out.splitlines()
    assert any(line.startswith("knowledge/faq/a.yaml:4: entries[0].anwser: unknown key") for line in lines)
    assert any(line.startswith("knowledge/faq/b.yaml:") for line in lines)
    assert "problem(s) found" in err and "Traceback" not in out + err


def test_check_missing_folder(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "check", str(tmp_path / "nope"))
    assert code == 1 and "is not a folder" in err


def test_ask_json_answers_from_the_right_entry(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "ask", "--json", "who wrote the peer production license", "what's the weather in Berlin tomorrow"
    )
    assert code == 0
    first, second = (json.loads(line) for line in out.splitlines())
    assert set(first) == {"question", "answered", "entry", "score", "suggestions", "reply"}
    assert first["answered"] is True and first["entry"] == "lic-authors" and "Kleiner" in first["reply"]
    assert isinstance(first["score"], float)
    assert second["answered"] is False and second["entry"] is None


def test_ask_json_from_stdin(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("who wrote the ppl\n\nhi\nis the ppl open source?\n"))
    code, out, _ = run(capsys, "ask", "--json", "-")
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["question"] for r in records] == ["who wrote the ppl", "hi", "is the ppl open source?"]
    assert records[1]["answered"] is False  # small talk is not a knowledge-base answer


def test_ask_plain(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "ask", "who wrote the peer production license")
    assert code == 0 and "Kleiner" in out and "**" not in out


def test_quiz_json_to_a_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "quiz", "--json", "--answers", "3,1,banana,co-op,no,yes,1")
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert records[0] == {
        "type": "question",
        "id": "activity",
        "text": records[0]["text"],
        "options": records[0]["options"],
    }
    assert {"type": "invalid", "text": records[3]["text"]} == records[3]
    verdict = records[-1]
    assert verdict["type"] == "verdict" and verdict["verdict"] == "permitted_with_conditions"
    assert "4(c)(i)" in verdict["sections"] and verdict["conditions"] and verdict["text"]


def test_quiz_json_pending_question_when_answers_run_out(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "quiz", "--json", "--answers", "3")
    last = json.loads(out.splitlines()[-1])
    assert code == 0 and last["type"] == "question" and last["id"] == "sharing"


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["quiz", "--bogus"])
    assert info.value.code == 2


def test_bad_setting_fails_at_start_naming_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PPLBOT_QUIZ_IDLE_MINUTES", "soon")
    code, _, err = run(capsys, "ask", "hi")
    assert code == 2 and "PPLBOT_QUIZ_IDLE_MINUTES" in err and "whole number" in err


def test_config_check_masks_secrets(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PPLBOT_TELEGRAM_TOKEN", "123456:very-secret-token")
    code, out, _ = run(capsys, "config", "check")
    assert code == 0 and "telegram_token = ********" in out and "very-secret" not in out


def test_run_without_networks_explains(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "run")
    assert code == 1 and "no network configured" in err and "pplbot chat" in err


def test_broken_knowledge_dir_is_reported_without_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "x.yaml").write_text("entries:\n  - id: x\n    questions: [no]\n", encoding="utf-8")
    monkeypatch.setenv("PPLBOT_KNOWLEDGE_DIR", str(kb))
    code, _, err = run(capsys, "ask", "hi")
    assert code == 1 and "kb/x.yaml:3" in err and "Traceback" not in err


def test_chat_reads_until_end_of_input(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("who wrote the ppl?\n/quiz\n1\n1\nquit\n"))
    code, out, _ = run(capsys, "chat")
    assert code == 0 and "Kleiner" in out and "Permitted." in out and out.rstrip().endswith("Bye!")


def test_chat_shows_the_short_answer_first_and_the_rest_on_more(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The terminal behaves as the chats do: `answer` first, `more` for the rest."""
    from pplbot.knowledge_files import load_knowledge

    entry = next(e for e in load_knowledge(KNOWLEDGE).entries if e.id == "lic-what-is")
    assert entry.more
    detail = entry.more.split(". ")[0]
    monkeypatch.setattr("sys.stdin", io.StringIO("what is the peer production license?\nquit\n"))
    _, short, _ = run(capsys, "chat")
    assert entry.answer.split(". ")[0] in short and detail not in short and "more" in short
    monkeypatch.setattr("sys.stdin", io.StringIO("what is the peer production license?\nmore\nquit\n"))
    _, longer, _ = run(capsys, "chat")
    assert detail in longer
