"""The moderators' page driven in a real headless Chromium (Debian's, through Playwright).

Screenshots of every page are written to build/screenshots/ (PPLBOT_SCREENSHOTS overrides).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.web.conftest import Site

SHOTS = Path(os.environ.get("PPLBOT_SCREENSHOTS", ROOT / "build" / "screenshots"))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: pip install -e '.[test]'")
if not Path(CHROMIUM).exists():
    pytest.skip(
        "no Chromium at /usr/bin/chromium: install Debian's `chromium` package (scripts/test does, when run as root)"
        " — the browser tests of the moderators' page did not run",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1100, "height": 900})  # type: ignore[attr-defined]
    yield context.new_page()
    context.close()


def shot(page: object, name: str, full: bool = True) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full)  # type: ignore[attr-defined]


def sign_in(site: Site, page: object) -> None:
    page.goto(site.link())  # type: ignore[attr-defined]
    page.click("#sign-in")  # type: ignore[attr-defined]
    page.wait_for_url("**/admin")  # type: ignore[attr-defined]


def test_sign_in_with_a_one_time_link_and_not_twice(shared_site: Site, browser: object) -> None:
    first = browser.new_context()  # type: ignore[attr-defined]
    page = first.new_page()
    link = shared_site.link()
    page.goto(link)
    shot(page, "login", full=False)
    page.click("#sign-in")
    page.wait_for_url("**/admin")
    assert "How pplbot is doing" in page.content()
    assert "Mia [@mia:example.org] (matrix)" in page.inner_text("header")
    second = browser.new_context()  # type: ignore[attr-defined]
    again = second.new_page()
    again.goto(link)
    assert "already used" in again.inner_text("main")
    again.goto(shared_site.admin.base_url + "/admin")
    assert "Please sign in" in again.inner_text("main")
    first.close()
    second.close()


def test_an_expired_link_is_refused(shared_site: Site, page: object) -> None:
    link = shared_site.link()
    auth = shared_site.admin.auth
    real = auth.clock
    auth.clock = lambda: real() + timedelta(minutes=11)
    try:
        page.goto(link)  # type: ignore[attr-defined]
        assert "expired" in page.inner_text("main")  # type: ignore[attr-defined]
    finally:
        auth.clock = real


def test_without_a_session_nothing_is_shown(shared_site: Site, page: object) -> None:
    for path in ("/admin", "/admin/entries", "/admin/unanswered", "/admin/audit"):
        response = page.goto(shared_site.admin.base_url + path)  # type: ignore[attr-defined]
        assert response.status == 401
        assert "Please sign in" in page.inner_text("main")  # type: ignore[attr-defined]


def test_a_post_without_the_csrf_token_is_refused_in_the_browser(shared_site: Site, page: object) -> None:
    sign_in(shared_site, page)
    status = page.evaluate(  # type: ignore[attr-defined]
        """() => fetch('/admin/unanswered/teach', {method: 'POST', credentials: 'same-origin',
              headers: {'Content-Type': 'application/x-www-form-urlencoded'},
              body: 'entry=lic-authors&question=who+penned+it'}).then(r => r.status)"""
    )
    assert status == 403
    assert "who penned it" not in shared_site.live.current.kb.by_id["lic-authors"].questions


def test_teach_an_unanswered_question(site: Site, page: object) -> None:
    question = "who dreamt up the ppl"
    for n in range(3):
        site.log_unanswered("what's the weather in berlin tomorrow", minutes=n)
    site.log_unanswered("is there a mobile app for the bot")
    reply = site.ask(question)
    assert "Kleiner" not in reply  # the bot does not know it yet, so it was logged
    sign_in(site, page)
    shot(page, "dashboard")
    page.goto(site.admin.base_url + "/admin/unanswered")  # type: ignore[attr-defined]
    shot(page, "unanswered")
    group = page.locator("section.group", has_text=question)  # type: ignore[attr-defined]
    assert group.count() == 1
    assert "would offer these as suggestions" in group.inner_text()
    assert group.locator("button.one-click").count() == 3  # one click per entry that nearly matched
    group.locator("li", has_text="lic-authors").locator("button.one-click").click()
    page.wait_for_url("**/admin/unanswered?saved=*")  # type: ignore[attr-defined]
    assert "Taught lic-authors" in page.inner_text("main")  # type: ignore[attr-defined]
    assert question in site.live.current.kb.by_id["lic-authors"].questions
    assert (
        question
        in (site.knowledge / "faq").joinpath(Path(site.live.current.kb.by_id["lic-authors"].file).name).read_text()
    )
    assert page.locator("section.group", has_text=question).count() == 0  # handled: off the list  # type: ignore[attr-defined]
    answer = site.ask(question)
    assert "Kleiner" in answer, (reply, answer)
    audit = site.store.audit(limit=1)[0]
    assert audit.action == "teach" and audit.who == "Mia [@mia:example.org]" and audit.network == "matrix"


def test_edit_an_answer_with_an_inline_error_then_fixed(site: Site, page: object) -> None:
    sign_in(site, page)
    page.goto(site.admin.base_url + "/admin/entries/lic-authors")  # type: ignore[attr-defined]
    original = site.live.current.kb.by_id["lic-authors"].answer
    bad = "Yes, two people wrote it: " + original
    page.fill("#answer", bad)  # type: ignore[attr-defined]
    page.click("#save")  # type: ignore[attr-defined]
    problem = page.inner_text(".problem")  # type: ignore[attr-defined]
    assert "Not saved" in problem and ".yaml:" in problem  # file:line of the problem
    assert page.input_value("#answer") == bad  # type: ignore[attr-defined]  # the text stays in the form
    shot(page, "entry-error")
    assert site.live.current.kb.by_id["lic-authors"].answer == original
    fixed = original.rstrip(".") + ", in 2010."
    page.fill("#answer", fixed)  # type: ignore[attr-defined]
    page.click("#save")  # type: ignore[attr-defined]
    page.wait_for_url("**/admin/entries/lic-authors?saved=1")  # type: ignore[attr-defined]
    assert "Saved, checked and live" in page.inner_text("main")  # type: ignore[attr-defined]
    assert site.live.current.kb.by_id["lic-authors"].answer == fixed
    assert "in 2010." in site.ask("who wrote the peer production license")


def test_an_outside_change_is_not_overwritten(site: Site, page: object) -> None:
    sign_in(site, page)
    page.goto(site.admin.base_url + "/admin/entries/lic-authors")  # type: ignore[attr-defined]
    path = site.knowledge.parent / site.live.current.kb.by_id["lic-authors"].file
    outside = path.read_text() + "\n# a change made in an editor\n"
    path.write_text(outside)
    mine = "Dmytri Kleiner and John Magyar wrote the PPL (my new wording)."
    page.fill("#answer", mine)  # type: ignore[attr-defined]
    page.click("#save")  # type: ignore[attr-defined]
    problem = page.inner_text(".problem")  # type: ignore[attr-defined]
    assert "changed since you opened this form" in problem
    assert page.input_value("#answer") == mine  # type: ignore[attr-defined]  # nothing lost
    assert path.read_text() == outside  # nothing clobbered
    shot(page, "entry-conflict")


def test_undo_from_the_audit_page(site: Site, page: object) -> None:
    entry = site.live.current.kb.by_id["lic-authors"]
    path = site.knowledge.parent / entry.file
    before = path.read_text()
    sign_in(site, page)
    page.goto(site.admin.base_url + "/admin/entries/lic-authors")  # type: ignore[attr-defined]
    page.fill("#answer", entry.answer.rstrip(".") + ", as the licence's first lines say.")  # type: ignore[attr-defined]
    page.click("#save")  # type: ignore[attr-defined]
    page.wait_for_url("**saved=1")  # type: ignore[attr-defined]
    assert path.read_text() != before
    page.goto(site.admin.base_url + "/admin/audit")  # type: ignore[attr-defined]
    assert page.locator("pre.diff .add").count() >= 1  # type: ignore[attr-defined]
    shot(page, "audit")
    page.locator("section.audit").first.locator("button", has_text="Undo").click()  # type: ignore[attr-defined]
    page.wait_for_url("**/admin/audit?saved=*")  # type: ignore[attr-defined]
    assert "Undid edit" in page.inner_text("main")  # type: ignore[attr-defined]
    assert path.read_text() == before
    assert site.live.current.kb.by_id["lic-authors"].answer == entry.answer
    assert "undone" in page.inner_text("section.audit >> nth=1")  # type: ignore[attr-defined]


def test_entries_search_live_probe_questionnaire_and_sessions(shared_site: Site, page: object) -> None:
    sign_in(shared_site, page)
    base = shared_site.admin.base_url
    page.goto(base + "/admin/entries?q=worker")  # type: ignore[attr-defined]
    assert "matching “worker”" in page.inner_text("main")  # type: ignore[attr-defined]
    page.fill("#probe", "who wrote the ppl")  # type: ignore[attr-defined]  # answered while typing (JavaScript)
    page.wait_for_selector("#probe-result >> text=lic-authors")  # type: ignore[attr-defined]
    assert "would: answer" in page.inner_text("#probe-result")  # type: ignore[attr-defined]
    shot(page, "entries")
    page.goto(base + "/admin/entries/lic-authors")  # type: ignore[attr-defined]
    shot(page, "entry")
    page.goto(base + "/admin/questionnaire")  # type: ignore[attr-defined]
    assert page.locator("svg rect").count() > 40  # type: ignore[attr-defined]
    shot(page, "questionnaire")
    page.goto(base + "/admin/sessions")  # type: ignore[attr-defined]
    assert "this one" in page.inner_text("main")  # type: ignore[attr-defined]
    shot(page, "sessions")
    phone = page.context.browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)  # type: ignore[attr-defined]
    small = phone.new_page()
    sign_in(shared_site, small)
    width = small.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 400  # usable on a phone: no sideways scrolling
    shot(small, "phone-dashboard")
    phone.close()
