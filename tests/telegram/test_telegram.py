"""pplbot on Telegram, through python-telegram-bot's real HTTP stack and a fake Bot API server."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from pplbot.core.knowledge import KnowledgeBase
from pplbot.transports.telegram import WebhookOptions
from tests.fakes.telegram_api import Call, FakeBotApi
from tests.telegram.conftest import Running, start_bot

GROUP = -1001
ALICE, BOB = 1001, 1002


def text_of(call: Call) -> str:
    return str(call.params["text"])


def keyboard(call: Call) -> list[str]:
    markup = call.params.get("reply_markup") or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


async def said(fake: FakeBotApi, chat: int, after: int, count: int = 1) -> list[Call]:
    return await fake.wait_for_count(
        "sendMessage", count, lambda c: c.params["chat_id"] == chat, timeout=10, after=after
    )


async def test_commands_menu_registered(running: Running) -> None:
    names = [c["command"] for c in running.fake.commands_for()]
    assert {"quiz", "ask", "help"} <= set(names)


async def test_private_question_answered(running: Running) -> None:
    fake = running.fake
    mark = fake.mark()
    update = fake.send_text(ALICE, ALICE, "who wrote the peer production license?")
    (call,) = await said(fake, ALICE, mark)
    assert "Kleiner" in text_of(call)
    assert call.params["parse_mode"] == "HTML"
    assert call.params["reply_parameters"]["message_id"] == update["message"]["message_id"]


async def test_html_in_user_text_is_escaped(running: Running) -> None:
    fake = running.fake
    mark = fake.mark()
    fake.send_text(ALICE, ALICE, "/ask <b>what</b> is <script>alert(1)</script> the ppl & co?")
    (call,) = await said(fake, ALICE, mark)
    assert call.ok, call.description  # the fake refuses bad HTML like Telegram does


async def test_group_etiquette(running: Running) -> None:
    fake = running.fake
    fake.add_chat(GROUP, "supergroup", title="PPL commons")
    mark = fake.mark()
    fake.send_text(GROUP, ALICE, "lol what a day")
    fake.send_text(GROUP, ALICE, "who wrote the ppl? anyone?")
    fake.send_text(GROUP, ALICE, "/ask@someotherbot who wrote the ppl")
    fake.send_text(GROUP, 999, "who wrote the peer production license", is_bot=True)
    fake.send_text(GROUP, ALICE, "/ask who wrote the peer production license")
    calls = await said(fake, GROUP, mark)
    assert "Kleiner" in text_of(calls[0])
    fake.send_text(GROUP, ALICE, f"/ask@{fake.username} who wrote the peer production license")
    fake.send_text(GROUP, BOB, f"@{fake.username} what is copyfarleft?")
    calls = await said(fake, GROUP, mark, 3)
    assert "opyfarleft" in text_of(calls[2])
    bot_message = calls[0].result
    fake.send_text(GROUP, BOB, "and who published it?", reply_to_message=bot_message)
    calls = await said(fake, GROUP, mark, 4)
    await asyncio.sleep(0.3)
    assert len(fake.calls_to("sendMessage")) - len([c for c in fake.calls[:mark] if c.method == "sendMessage"]) == 4


async def test_questionnaire_by_buttons(running: Running) -> None:
    fake = running.fake
    fake.add_chat(GROUP, "supergroup", title="PPL commons")
    mark = fake.mark()
    fake.send_text(GROUP, ALICE, "/quiz")
    (question,) = await said(fake, GROUP, mark)
    assert "Question 1 of" in text_of(question)
    buttons = keyboard(question)
    assert len(buttons) == 8 and all(len(b.encode()) <= 64 for b in buttons)
    # Bob presses Alice's button: an alert, nothing changes
    mark2 = fake.mark()
    fake.press_button(GROUP, BOB, question.result, buttons[1])
    alert = await fake.wait_for("answerCallbackQuery", after=mark2)
    assert alert.params.get("show_alert") and "someone else" in alert.params["text"]
    await asyncio.sleep(0.3)
    assert not [c for c in fake.calls[mark2:] if c.method in {"sendMessage", "editMessageText"}]
    # Alice answers: the question is edited (keyboard gone) and the next one sent
    answers = [2, 0, 6]  # share it unchanged -> under the PPL -> a company with employees
    current = question
    for n, index in enumerate(answers):
        mark3 = fake.mark()
        fake.press_button(GROUP, ALICE, current.result, keyboard(current)[index])
        edit = await fake.wait_for("editMessageText", after=mark3)
        assert "➜" in edit.params["text"] and not edit.params.get("reply_markup")
        (current,) = await said(fake, GROUP, mark3)
        if n < len(answers) - 1:
            assert f"Question {n + 2} of" in text_of(current)
    assert "Needs separate permission" in text_of(current) and "4(d)" in text_of(current)
    # a stale button of the finished questionnaire
    mark4 = fake.mark()
    fake.press_button(GROUP, ALICE, question.result, buttons[0], check=False)
    stale = await fake.wait_for("answerCallbackQuery", after=mark4)
    assert stale.params.get("show_alert") and "ended or expired" in stale.params["text"]


async def test_unknown_callback_data_refused(running: Running) -> None:
    fake = running.fake
    mark = fake.mark()
    fake.send_text(ALICE, ALICE, "/quiz")
    (question,) = await said(fake, ALICE, mark)
    mark2 = fake.mark()
    fake.press_button(ALICE, ALICE, question.result, "evil-data", check=False)
    alert = await fake.wait_for("answerCallbackQuery", after=mark2)
    assert "don't know this button" in alert.params["text"]


async def test_forum_topic_kept(running: Running) -> None:
    fake = running.fake
    mark = fake.mark()
    fake.send_text(GROUP, ALICE, "/ask who wrote the peer production license", message_thread_id=77)
    (call,) = await said(fake, GROUP, mark)
    assert call.params["message_thread_id"] == 77


async def test_429_during_reply_is_retried_and_delivered(running: Running) -> None:
    fake = running.fake
    fake.fail_next("sendMessage", 429, retry_after=1)
    mark = fake.mark()
    fake.send_text(ALICE, ALICE, "who wrote the peer production license?")
    calls = await fake.wait_for_count("sendMessage", 2, after=mark, timeout=15)
    assert calls[0].status == 429 and calls[1].ok
    assert calls[1].time - calls[0].time >= 0.9
    assert "Kleiner" in text_of(calls[1])


async def test_5xx_retried_with_backoff(running: Running) -> None:
    fake = running.fake
    fake.fail_next("sendMessage", 502, count=2)
    mark = fake.mark()
    fake.send_text(ALICE, ALICE, "who wrote the peer production license?")
    calls = await fake.wait_for_count("sendMessage", 3, after=mark, timeout=15)
    assert [c.status for c in calls] == [502, 502, 200]


async def test_403_blocked_is_not_retried(running: Running) -> None:
    fake = running.fake
    fake.set_blocked(ALICE)
    mark = fake.mark()
    fake.send_text(ALICE, ALICE, "who wrote the peer production license?")
    await fake.wait_for("sendMessage", after=mark)
    await asyncio.sleep(1.0)
    assert len([c for c in fake.calls[mark:] if c.method == "sendMessage"]) == 1
    fake.set_blocked(ALICE, False)
    fake.send_text(BOB, BOB, "who wrote the peer production license?")
    (call,) = await said(fake, BOB, mark)
    assert call.ok


async def test_malformed_update_does_not_stop_the_bot(running: Running) -> None:
    fake = running.fake
    mark = fake.mark()
    fake.add_update({"message": {"message_id": 5, "text": "no chat, no date"}})
    fake.add_update({"callback_query": {"id": "x"}})
    fake.send_text(ALICE, ALICE, "who wrote the peer production license?")
    (call,) = await said(fake, ALICE, mark)
    assert "Kleiner" in text_of(call)


async def test_deep_link_starts_the_questionnaire(running: Running) -> None:
    fake = running.fake
    mark = fake.mark()
    fake.send_text(ALICE, ALICE, "/start quiz")
    (call,) = await said(fake, ALICE, mark)
    assert "Question 1 of" in text_of(call)


async def test_restart_mid_questionnaire(fake: FakeBotApi, kb: KnowledgeBase, tmp_path: Path) -> None:
    db = tmp_path / "state.sqlite3"
    first = await start_bot(fake, kb, db)
    mark = fake.mark()
    fake.send_text(ALICE, ALICE, "/quiz")
    (question,) = await said(fake, ALICE, mark)
    fake.press_button(ALICE, ALICE, question.result, keyboard(question)[2])
    second_question, *_ = await said(fake, ALICE, mark, 2)
    second_question = (await said(fake, ALICE, mark, 2))[1]
    await first.close()
    first.store.close()
    # while the bot is down, Alice presses the next answer
    fake.press_button(ALICE, ALICE, second_question.result, keyboard(second_question)[0])
    mark2 = fake.mark()
    second = await start_bot(fake, kb, db)
    try:
        (third,) = await said(fake, ALICE, mark2)
        assert "Question 3 of" in text_of(third)
        await asyncio.sleep(0.5)
        sent_after = [c for c in fake.calls[mark2:] if c.method == "sendMessage"]
        assert len(sent_after) == 1, "nothing answered twice"
    finally:
        await second.close()
        second.store.close()


async def test_duplicate_update_after_crash_is_not_answered_twice(
    fake: FakeBotApi, kb: KnowledgeBase, tmp_path: Path
) -> None:
    db = tmp_path / "state.sqlite3"
    first = await start_bot(fake, kb, db)
    mark = fake.mark()
    update = fake.send_text(ALICE, ALICE, "who wrote the peer production license?")
    await said(fake, ALICE, mark)
    await first.close()
    first.store.close()
    fake.add_update(dict(update))  # the Bot API delivers it again, as after a crash before confirming
    mark2 = fake.mark()
    second = await start_bot(fake, kb, db)
    try:
        await asyncio.sleep(1.0)
        assert not [c for c in fake.calls[mark2:] if c.method == "sendMessage"]
    finally:
        await second.close()
        second.store.close()


@pytest.mark.parametrize("secret", ["right-secret"])
async def test_webhook_refuses_a_wrong_secret(fake: FakeBotApi, kb: KnowledgeBase, tmp_path: Path, secret: str) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/telegram"
    bot = await start_bot(fake, kb, tmp_path / "db.sqlite3", webhook=WebhookOptions(f"127.0.0.1:{port}", url, secret))
    try:
        for _ in range(100):  # until the webhook listener accepts connections
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                await writer.wait_closed()
                break
            except OSError:
                await asyncio.sleep(0.05)
        update: dict[str, Any] = {
            "update_id": 500,
            "message": {
                "message_id": 1,
                "date": 1700000000,
                "chat": {"id": ALICE, "type": "private", "first_name": "Alice"},
                "from": {"id": ALICE, "is_bot": False, "first_name": "Alice"},
                "text": "who wrote the peer production license?",
            },
        }
        assert await fake.post_update_to(url, update, secret_token="wrong") == 403
        mark = fake.mark()
        assert await fake.post_update_to(url, update, secret_token=secret) == 200
        (call,) = await said(fake, ALICE, mark)
        assert "Kleiner" in text_of(call)
    finally:
        await bot.close()
        bot.store.close()


async def test_moderator_commands_configured_ids_and_chat_admins(
    fake: FakeBotApi, kb: KnowledgeBase, tmp_path: Path
) -> None:
    bot = await start_bot(fake, kb, tmp_path / "db.sqlite3", moderators=(str(ALICE),))
    try:
        fake.add_chat(GROUP, "supergroup", title="PPL commons")
        fake.set_admins(GROUP, [BOB])
        mark = fake.mark()
        fake.send_text(ALICE, ALICE, "/kb show lic-authors")  # a configured moderator, privately
        (call,) = await said(fake, ALICE, mark)
        assert "lic-authors" in text_of(call) and "Questions:" in text_of(call)
        fake.send_text(GROUP, 3003, "/kb stats")  # an ordinary member
        (refusal,) = await said(fake, GROUP, mark)
        assert "only moderators" in text_of(refusal)
        fake.send_text(GROUP, BOB, f"/kb@{fake.username} stats")  # a chat administrator
        calls = await said(fake, GROUP, mark, 2)
        assert "Knowledge base version" in text_of(calls[1])
        assert fake.calls_to("getChatAdministrators")
    finally:
        await bot.close()
        bot.store.close()


async def test_every_kb_command_over_telegram(fake: FakeBotApi, kb: KnowledgeBase, tmp_path: Path) -> None:
    import shutil

    from tests.conftest import KNOWLEDGE

    knowledge = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, knowledge)
    bot = await start_bot(fake, kb, tmp_path / "db.sqlite3", moderators=(str(ALICE),), knowledge=knowledge)
    steps = [
        ("how do i frobnicate a zorblax", "don't know"),
        ("/kb show lic-authors", "Questions:"),
        ("/kb search who wrote the ppl", "I would: answer"),
        ("/kb unanswered", "#1 (1×"),
        ("/kb teach lic-authors #1", "Taught lic-authors"),
        ("/kb answer lic-authors\nThe PPL was written by Dmytri Kleiner and John Magyar.", "Saved the new answer"),
        ("/kb undo", "Undid answer of lic-authors"),
        (
            "/kb add zine-faq\ncan we print a PPL zine for our club?\nNon-commercial copies are fine under Section 4(b).\nSource: PPL 4(b)",
            "Added zine-faq",
        ),
        ("/kb remove zine-faq", "Removed zine-faq"),
        ("/kb history", "remove zine-faq"),
        ("/kb stats", "Knowledge base version"),
        ("/kb purge-unanswered", "Deleted"),
        ("/kb reload", "Reloaded"),
    ]
    try:
        for n, (text, expected) in enumerate(steps):
            mark = fake.mark()
            fake.send_text(ALICE, ALICE, text)
            (call,) = await said(fake, ALICE, mark)
            assert expected in text_of(call), (n, text, text_of(call))
        mark = fake.mark()
        fake.send_text(BOB, BOB, "/kb stats")
        (refusal,) = await said(fake, BOB, mark)
        assert "only moderators" in text_of(refusal)
    finally:
        await bot.close()
        bot.store.close()


async def test_kb_web_link_only_in_a_private_chat(fake: FakeBotApi, kb: KnowledgeBase, tmp_path: Path) -> None:
    from pplbot.web.server import AdminSite

    bot = await start_bot(fake, kb, tmp_path / "db.sqlite3", moderators=(str(ALICE),))
    service = bot.transport.service
    assert service.moderation is not None
    AdminSite(service, service.moderation.live, bot.store, service.moderation, base_url="https://bot.example.org")
    try:
        fake.add_chat(GROUP, "supergroup", title="PPL commons")
        mark = fake.mark()
        fake.send_text(GROUP, ALICE, "/kb web")  # a moderator, but in the group
        (in_group,) = await said(fake, GROUP, mark)
        assert "direct message" in text_of(in_group) and "token=" not in text_of(in_group)
        fake.send_text(ALICE, ALICE, "/kb web")
        (private,) = await said(fake, ALICE, mark)
        assert "https://bot.example.org/admin/login?token=" in text_of(private)
        assert all("token=" not in m.get("text", "") for m in fake.sent_messages(GROUP))
        fake.send_text(BOB, BOB, "/kb web")  # not a moderator
        (refusal,) = await said(fake, BOB, mark)
        assert "only moderators" in text_of(refusal) and "token=" not in text_of(refusal)
    finally:
        await bot.close()
        bot.store.close()
