"""A real moderators' page on loopback: a copy of the bundled knowledge, SQLite, the real bot."""

from __future__ import annotations

import http.client
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

from pplbot.app import compose
from pplbot.config import load_settings
from pplbot.core.messages import ChatKind, Incoming
from pplbot.moderation.live import LiveKnowledge
from pplbot.service import Service
from pplbot.store import SqliteStore
from pplbot.web.local import LocalWeb
from pplbot.web.server import COOKIE, AdminSite
from tests.conftest import KNOWLEDGE, T0, incoming


@dataclass
class Site:
    service: Service
    live: LiveKnowledge
    store: SqliteStore
    knowledge: Path
    web: LocalWeb

    @property
    def admin(self) -> AdminSite:
        assert self.web.site is not None
        return self.web.site

    def ask(self, text: str, *, moderator: bool = True, group: bool = False, name: str = "Mia") -> str:
        message = replace(
            incoming(text, user="@mia:example.org", group=group),
            is_moderator=moderator,
            user_name=name,
            network="matrix",
            chat_kind=ChatKind.GROUP if group else ChatKind.DIRECT,
        )
        return "\n".join(r.text for r in self.service.handle(message))

    def link(self, name: str = "Mia") -> str:
        reply = self.ask("!kb web", name=name)
        found = re.search(r"https?://\S+", reply)
        assert found, reply
        return found.group(0)

    def log_unanswered(self, text: str, minutes: int = 0) -> None:
        message = Incoming("matrix", "!room", "@u:x", text, T0 + timedelta(minutes=minutes))
        self.service.handle(message)

    # a small HTTP client (no redirects followed, cookies by hand)
    def request(
        self,
        method: str,
        path: str,
        form: dict[str, str] | None = None,
        cookie: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], str]:
        base = urlsplit(self.admin.base_url)
        conn = http.client.HTTPConnection(base.hostname or "127.0.0.1", base.port, timeout=30)
        all_headers = dict(headers or {})
        if cookie:
            all_headers["Cookie"] = f"{COOKIE}={cookie}"
        body = None
        if form is not None:
            body = urlencode(form)
            all_headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=all_headers)
        response = conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        out = {k.lower(): v for k, v in response.getheaders()}
        conn.close()
        return response.status, out, text

    def sign_in(self) -> str:
        link = urlsplit(self.link())
        status, headers, _ = self.request("POST", "/admin/login", {"token": link.query.split("=", 1)[1]})
        assert status == 303, status
        found = re.search(COOKIE + r"=([^;]+)", headers["set-cookie"])
        assert found
        return found.group(1)

    def csrf(self, cookie: str, path: str = "/admin") -> str:
        _, _, html = self.request("GET", path, cookie=cookie)
        found = re.search(r'name="csrf" value="([^"]+)"', html)
        assert found
        return found.group(1)


def make_site(tmp_path: Path) -> Iterator[Site]:
    knowledge = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, knowledge)
    settings = load_settings(
        {
            "PPLBOT_KNOWLEDGE_DIR": str(knowledge),
            "PPLBOT_DATA_DIR": str(tmp_path / "data"),
            "PPLBOT_HTTP_LISTEN": "127.0.0.1:0",
        }
    )
    store = SqliteStore(settings.database)
    service, live = compose(settings, store)
    web = LocalWeb(service, live, store, settings)
    web.install()
    web.link("setup", "test")  # start the server
    try:
        yield Site(service, live, store, knowledge, web)
    finally:
        web.close()
        store.close()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    yield from make_site(tmp_path)


@pytest.fixture(scope="module")
def shared_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    yield from make_site(tmp_path_factory.mktemp("web"))
