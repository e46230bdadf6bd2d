"""Who gets in: one-time links, sessions, CSRF, and HTML escaping on every page (over real HTTP)."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from pplbot.web.auth import Auth, Moderator
from tests.conftest import T0
from tests.web.conftest import Site

PAGES = [
    "/admin",
    "/admin/unanswered",
    "/admin/entries",
    "/admin/entries?probe=who+wrote+it",
    "/admin/entries/lic-authors",
    "/admin/new?q=hello",
    "/admin/probe?text=who+wrote+it",
    "/admin/audit",
    "/admin/questionnaire",
    "/admin/sessions",
]
POSTS = [
    "/admin/unanswered/teach",
    "/admin/entries/lic-authors",
    "/admin/new",
    "/admin/audit/1/undo",
    "/admin/sessions/revoke",
    "/admin/logout",
]


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> object:
        return self.now


def test_a_link_works_once_and_for_ten_minutes(tmp_path: object) -> None:
    from pplbot.store import SqliteStore

    store = SqliteStore(":memory:")
    clock = Clock()
    auth = Auth(store, session_hours=2, clock=clock)  # type: ignore[arg-type]
    token = auth.issue_link(Moderator("Mia [@mia:x]", "matrix"))
    assert auth.link_state(token) == "ok"
    assert auth.link_state(token + "x") == "unknown"
    result = auth.use_link(token, "browser")
    assert not isinstance(result, str)
    cookie, session = result
    assert auth.use_link(token) == "used"
    assert auth.session(cookie) == session and session.moderator.who == "Mia [@mia:x]"
    late = auth.issue_link(Moderator("Mia [@mia:x]", "matrix"))
    clock.now = T0 + timedelta(minutes=10, seconds=1)
    assert auth.use_link(late) == "expired"
    clock.now = T0 + timedelta(hours=2, seconds=1)
    assert auth.session(cookie) is None  # the session expired
    assert store.execute("SELECT count(*) FROM web_links")[0][0] == 2  # only hashes are stored
    assert token not in str(store.execute("SELECT * FROM web_links"))
    assert cookie not in str(store.execute("SELECT * FROM web_sessions"))


@pytest.mark.parametrize("path", PAGES)
def test_no_page_is_served_without_a_session(shared_site: Site, path: str) -> None:
    status, _, body = shared_site.request("GET", path)
    assert status == 401
    assert "Please sign in" in body and "kb web" in body
    status, _, _ = shared_site.request("GET", path, cookie="forged-cookie-value")
    assert status == 401


@pytest.mark.parametrize("path", POSTS)
def test_a_post_without_the_csrf_token_is_refused(shared_site: Site, path: str) -> None:
    cookie = shared_site.sign_in()
    before = {p: p.read_text() for p in shared_site.knowledge.rglob("*.yaml")}
    form = {"entry": "lic-authors", "question": "who penned it", "answer": "x", "key": "k"}
    status, _, body = shared_site.request("POST", path, form, cookie=cookie)
    assert status == 403 and "security token" in body
    status, _, _ = shared_site.request("POST", path, {**form, "csrf": "wrong"}, cookie=cookie)
    assert status == 403
    csrf = shared_site.csrf(cookie)
    status, _, body = shared_site.request(
        "POST", path, {**form, "csrf": csrf}, cookie=cookie, headers={"Origin": "http://evil.example"}
    )
    assert status == 403 and "another site" in body
    assert {p: p.read_text() for p in shared_site.knowledge.rglob("*.yaml")} == before
    assert shared_site.request("GET", "/admin", cookie=cookie)[0] == 200  # still signed in


def test_a_post_without_any_session_is_refused(shared_site: Site) -> None:
    status, _, _ = shared_site.request("POST", "/admin/new", {"id": "x", "csrf": "x"})
    assert status == 401


def test_security_headers_and_cookie_flags(shared_site: Site) -> None:
    link = urlsplit(shared_site.link())
    status, headers, body = shared_site.request("GET", f"/admin/login?{link.query}")
    assert status == 200 and 'name="token"' in body  # a button: a link preview cannot spend the link
    status, headers, _ = shared_site.request("POST", "/admin/login", {"token": link.query.split("=", 1)[1]})
    assert status == 303 and headers["location"] == "/admin"
    cookie = headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/admin" in cookie
    assert "Secure" not in cookie  # served over plain HTTP on loopback
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["referrer-policy"] == "no-referrer"


def test_secure_cookie_behind_https(shared_site: Site) -> None:
    admin = shared_site.admin
    admin.secure = True
    try:
        token = shared_site.link().split("token=", 1)[1]
        _, headers, _ = shared_site.request("POST", "/admin/login", {"token": token})
        assert "Secure" in headers["set-cookie"]
    finally:
        admin.secure = False


def test_reused_unknown_and_expired_links_are_refused(shared_site: Site) -> None:
    token = shared_site.link().split("token=", 1)[1]
    assert shared_site.request("POST", "/admin/login", {"token": token})[0] == 303
    status, _, body = shared_site.request("POST", "/admin/login", {"token": token})
    assert status == 403 and "already used" in body
    assert "already used" in shared_site.request("GET", f"/admin/login?token={token}")[2]
    assert shared_site.request("POST", "/admin/login", {"token": "made-up"})[0] == 403
    late = shared_site.link().split("token=", 1)[1]
    auth = shared_site.admin.auth
    real = auth.clock
    auth.clock = lambda: real() + timedelta(minutes=11)
    try:
        status, _, body = shared_site.request("POST", "/admin/login", {"token": late})
    finally:
        auth.clock = real
    assert status == 403 and "expired" in body


def test_sessions_can_be_listed_and_revoked(shared_site: Site) -> None:
    mine, other = shared_site.sign_in(), shared_site.sign_in()
    _, _, html = shared_site.request("GET", "/admin/sessions", cookie=mine)
    keys = re.findall(r'name="key" value="([0-9a-f]+)"', html)
    assert len(keys) >= 2 and "this one" in html
    own = shared_site.admin.auth.session(mine)
    assert own is not None
    victim = next(
        k
        for k in keys
        if k != own.key and shared_site.admin.auth.session(other) and k == shared_site.admin.auth.session(other).key
    )  # type: ignore[union-attr]
    status, _, _ = shared_site.request("POST", "/admin/sessions/revoke", {"key": victim, "csrf": own.csrf}, cookie=mine)
    assert status == 303
    assert shared_site.request("GET", "/admin", cookie=other)[0] == 401
    assert shared_site.request("GET", "/admin", cookie=mine)[0] == 200
    assert shared_site.request("POST", "/admin/logout", {"csrf": own.csrf}, cookie=mine)[0] == 303
    assert shared_site.request("GET", "/admin", cookie=mine)[0] == 401


def test_kb_web_only_for_moderators_and_only_in_direct_messages(
    shared_site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    refused = shared_site.ask("!kb web", moderator=False)
    assert "only moderators" in refused and "http" not in refused
    assert "refused kb command from a non-moderator" in caplog.text
    in_group = shared_site.ask("!kb web", group=True)
    assert "direct message" in in_group and "http" not in in_group and "token" not in in_group
    assert "kb web asked in a group chat" in caplog.text
    direct = shared_site.ask("!kb web")
    assert "works once, for 10 minutes" in direct and "/admin/login?token=" in direct
    assert re.search(r"token=\S+", direct).group(0) not in caplog.text  # type: ignore[union-attr]


def test_the_terminal_gets_the_same_link(tmp_path: object) -> None:
    import http.client
    from pathlib import Path
    from urllib.parse import urlsplit as split

    from pplbot.app import compose
    from pplbot.config import load_settings
    from pplbot.store import SqliteStore
    from pplbot.transports.console import to_incoming
    from pplbot.web.local import LocalWeb

    settings = load_settings({"PPLBOT_DATA_DIR": str(Path(str(tmp_path)) / "d")})
    store = SqliteStore(settings.database)
    service, live = compose(settings, store)
    web = LocalWeb(service, live, store, settings)
    web.install()
    try:
        reply = "\n".join(r.text for r in service.handle(to_incoming("!kb web")))
        url = split(re.search(r"http://\S+", reply).group(0))  # type: ignore[union-attr]
        assert url.hostname == "127.0.0.1"
        conn = http.client.HTTPConnection("127.0.0.1", url.port, timeout=10)
        conn.request("GET", f"{url.path}?{url.query}")
        status = conn.getresponse().status
        conn.close()
        assert status == 200
    finally:
        web.close()
        store.close()


HOSTILE = "<script>alert('x')</script>"


def test_html_in_entries_questions_and_names_is_escaped_on_every_page(site: Site) -> None:
    from pplbot.moderation.commands import Actor

    actor = Actor(f"<b>Mia</b>{HOSTILE} [@mia:x]", "matrix", T0)
    moderation = site.service.moderation
    assert moderation is not None
    site.log_unanswered(f"what is the weather like, {HOSTILE} <img src=x onerror=alert(1)>?")
    moderation.add(
        actor,
        "hostile-entry",
        [f"what does {HOSTILE} mean", "is <img src=x onerror=alert(1)> allowed"],
        f"Section 3 of the licence grants the rights; {HOSTILE} is only text here.",
        ["PPL 3"],
        f"More {HOSTILE}",
    )
    cookie = site.sign_in()
    extra = [
        "/admin/entries/hostile-entry",
        "/admin/entries?q=hostile",
        f"/admin/entries?probe=what+does+{HOSTILE}+mean",
        f"/admin/probe?text={HOSTILE}",
        f"/admin/new?q={HOSTILE}",
    ]
    for path in PAGES + extra:
        status, _, body = site.request("GET", path.replace(" ", "+"), cookie=cookie)
        assert status == 200, path
        assert "<script>alert" not in body, path
        assert "<img src=x" not in body, path
        assert "<b>Mia</b>" not in body, path
    _, _, audit = site.request("GET", "/admin/audit", cookie=cookie)
    assert "&lt;b&gt;Mia&lt;/b&gt;" in audit
    _, _, unanswered = site.request("GET", "/admin/unanswered", cookie=cookie)
    assert "&lt;img src=x" in unanswered


def test_a_new_entry_from_an_unanswered_question(site: Site) -> None:
    question = "can our allotment society print the ppl zine for its members"
    cookie = site.sign_in()
    csrf = site.csrf(cookie)
    _, _, form = site.request("GET", "/admin/new?q=" + question.replace(" ", "+"), cookie=cookie)
    assert question in form  # the question is already in the form
    bad = {"csrf": csrf, "id": "allotment-zine", "questions": question, "answer": "Yes, of course.", "sources": ""}
    status, _, body = site.request("POST", "/admin/new", bad, cookie=cookie)
    assert status == 422 and "Not saved" in body and "added-in-chat.yaml:" in body
    assert "Yes, of course." in body  # kept in the form
    assert "allotment-zine" not in site.live.current.kb.by_id
    good = {
        **bad,
        "answer": "Section 4(b) lets anyone copy the work for non-commercial purposes, members' zines included.",
        "sources": "PPL 4(b)",
    }
    status, headers, _ = site.request("POST", "/admin/new", good, cookie=cookie)
    assert status == 303 and headers["location"] == "/admin/entries/allotment-zine?saved=1"
    assert "allotment-zine" in site.live.current.kb.by_id
    assert "Section 4(b)" in site.ask(question)
    record = site.store.audit(limit=1)[0]
    assert (record.action, record.entry, record.who) == ("add", "allotment-zine", "Mia [@mia:example.org]")


def test_teach_names_another_entry_when_none_of_the_near_ones_is_right(site: Site) -> None:
    question = "which brain produced this licence"
    site.log_unanswered(question)
    cookie = site.sign_in()
    _, _, page = site.request("GET", "/admin/unanswered", cookie=cookie)
    assert question in page and 'value="lic-authors" class="one-click"' not in page  # not among the near ones
    # as Enter in the box sends it: with the first near entry's button value as well
    form = {"csrf": site.csrf(cookie), "question": question, "key": "k", "other": "lic-authors", "entry": "lic-what-is"}
    status, headers, _ = site.request("POST", "/admin/unanswered/teach", form, cookie=cookie)
    assert status == 303 and "saved=" in headers["location"]
    assert question in site.live.current.kb.by_id["lic-authors"].questions
    assert question not in site.live.current.kb.by_id["lic-what-is"].questions
    form["other"] = "no-such-entry"
    status, headers, _ = site.request("POST", "/admin/unanswered/teach", form, cookie=cookie)
    assert status == 303 and "error=" in headers["location"] and "no+entry" in headers["location"]
