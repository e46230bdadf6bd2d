"""The moderators' page under /admin, on the HTTP listener that serves /healthz and /metrics.

Server-rendered (Jinja2, autoescaping on), a little JavaScript only for the live "which entry
would answer this?" box (the form works without it). Every page needs a session; every POST
needs the session's CSRF token. Edits go through `Moderation`, the same code as `kb` commands.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from importlib import resources
from typing import Any, NoReturn
from urllib.parse import quote, urlencode

import jinja2
from aiohttp import web

from pplbot.config import Settings
from pplbot.errors import Issue, StoreError
from pplbot.moderation.commands import Actor, Moderation
from pplbot.moderation.editing import EditError
from pplbot.moderation.live import LiveKnowledge
from pplbot.service import Service
from pplbot.web import charts
from pplbot.web.auth import Auth, Moderator, WebSession
from pplbot.web.pages import KeepsValues, UnansweredLog, diff_lines, probe, search_entries, weekly

__all__ = ["COOKIE", "AdminSite"]

logger = logging.getLogger(__name__)

COOKIE = "pplbot_session"
PAGE_SIZE = 50
GROUPS_PER_PAGE = 25
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_STATIC = {"admin.css": "text/css", "admin.js": "text/javascript"}
Handler = Callable[[web.Request, WebSession], Awaitable[web.StreamResponse]]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _page_number(request: web.Request) -> int:
    raw = request.query.get("page", "1")
    return max(1, int(raw)) if raw.isdigit() else 1


def file_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class AdminSite:
    def __init__(
        self,
        service: Service,
        live: LiveKnowledge,
        store: KeepsValues,
        moderation: Moderation,
        *,
        base_url: str,
        session_hours: float = 12.0,
        unanswered_days: int = 90,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.service = service
        self.live = live
        self.store = store
        self.moderation = moderation
        self.base_url = base_url.rstrip("/")
        self.secure = self.base_url.startswith("https://")
        self.clock = clock
        self.auth = Auth(store, session_hours, clock)
        self.log = UnansweredLog(store, unanswered_days)
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader("pplbot.web", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        moderation.web_link = self.link

    @classmethod
    def from_settings(
        cls, service: Service, live: LiveKnowledge, store: KeepsValues, settings: Settings, base_url: str | None = None
    ) -> AdminSite:
        assert service.moderation is not None
        return cls(
            service,
            live,
            store,
            service.moderation,
            base_url=settings.web_base_url or base_url or f"http://{settings.http_listen}",
            session_hours=settings.web_session_hours,
            unanswered_days=settings.unanswered_retention_days,
        )

    def warm(self) -> None:
        """Compile the templates and group the logged questions once, so no moderator waits for it."""
        for name in self.env.list_templates():
            self.env.get_template(name)
        try:
            kb = self.live.current.kb
            for group in self.log.groups(self.clock())[:GROUPS_PER_PAGE]:
                self.log.near(self.service.bot, kb, group.text)
        except StoreError as exc:
            logger.error("could not read the unanswered questions: %s", exc)

    # ------------------------------------------------------------ links and routes
    def link(self, who: str, network: str) -> str:
        token = self.auth.issue_link(Moderator(who, network))
        return f"{self.base_url}/admin/login?{urlencode({'token': token})}"

    def add_routes(self, app: web.Application) -> None:
        page, post = self._page, self._post
        app.router.add_get("/admin/static/{name}", self.static)
        app.router.add_get("/admin/login", self.login_form)
        app.router.add_post("/admin/login", self.login)
        app.router.add_get("/admin", page(self.dashboard))
        app.router.add_get("/admin/", page(self.dashboard))
        app.router.add_get("/admin/unanswered", page(self.unanswered))
        app.router.add_post("/admin/unanswered/teach", post(self.teach))
        app.router.add_get("/admin/entries", page(self.entries))
        app.router.add_get("/admin/probe", page(self.probe_fragment))
        app.router.add_get("/admin/new", page(self.new_form))
        app.router.add_post("/admin/new", post(self.new_entry))
        app.router.add_get("/admin/entries/{id}", page(self.entry))
        app.router.add_post("/admin/entries/{id}", post(self.save_entry))
        app.router.add_get("/admin/audit", page(self.audit))
        app.router.add_post("/admin/audit/{id}/undo", post(self.undo))
        app.router.add_get("/admin/questionnaire", page(self.questionnaire))
        app.router.add_get("/admin/sessions", page(self.sessions))
        app.router.add_post("/admin/sessions/revoke", post(self.revoke))
        app.router.add_post("/admin/logout", post(self.logout))

    # ------------------------------------------------------------ plumbing
    def render(self, name: str, status: int = 200, session: WebSession | None = None, **values: Any) -> web.Response:
        template = self.env.get_template(name)
        html = template.render(session=session, csrf=session.csrf if session else "", **values)
        return web.Response(text=html, status=status, content_type="text/html", charset="utf-8", headers=_HEADERS)

    def _refuse(self, status: int, title: str, text: str) -> web.Response:
        return self.render("message.html", status, title=title, text=text)

    def _session(self, request: web.Request) -> WebSession | None:
        try:
            return self.auth.session(request.cookies.get(COOKIE))
        except StoreError as exc:
            logger.error("web session lookup failed: %s", exc)
            return None

    def _page(self, handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            session = self._session(request)
            if session is None:
                return self._refuse(
                    401,
                    "Please sign in",
                    "This page is for moderators. Send “kb web” to the bot in a direct message "
                    "(on Matrix “!kb web”, on Telegram “/kb web”) and open the link it sends you.",
                )
            try:
                return await handler(request, session)
            except StoreError as exc:
                logger.error("web page %s: %s", request.path, exc)
                return self._refuse(503, "Storage problem", "The state store is unavailable. Try again later.")

        return wrapped

    def _post(self, handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def checked(request: web.Request, session: WebSession) -> web.StreamResponse:
            form = await request.post()
            origin = request.headers.get("Origin")
            if origin not in (None, "null") and origin.split("://", 1)[-1] != request.host:
                logger.warning("web POST %s refused: Origin %s is not this site", request.path, origin)
                return self._refuse(403, "Refused", "This form was sent from another site.")
            if not self.auth.csrf_ok(session, str(form.get("csrf", "")) or None):
                logger.warning(
                    "web POST %s refused: missing or wrong CSRF token (%s)", request.path, session.moderator.who
                )
                return self._refuse(
                    403,
                    "Refused",
                    "The form's security token is missing or out of date. Reload the page and try again.",
                )
            return await handler(request, session)

        return self._page(checked)

    def _actor(self, session: WebSession) -> Actor:
        return Actor(session.moderator.who, session.moderator.network, self.clock())

    @staticmethod
    def _see_other(location: str) -> NoReturn:
        raise web.HTTPSeeOther(location, headers=_HEADERS)

    async def static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in _STATIC:
            raise web.HTTPNotFound()
        body = resources.files("pplbot.web").joinpath("static").joinpath(name).read_text(encoding="utf-8")
        return web.Response(text=body, content_type=_STATIC[name], headers={"Cache-Control": "max-age=3600"})

    # ------------------------------------------------------------ sign-in
    async def login_form(self, request: web.Request) -> web.Response:
        token = request.query.get("token", "")
        state = self.auth.link_state(token) if token else "unknown"
        if state != "ok":
            return self._link_refused(state)
        # a button, not an automatic sign-in: link previews must not spend the link
        return self.render("login.html", token=token)

    async def login(self, request: web.Request) -> web.Response:
        form = await request.post()
        result = self.auth.use_link(str(form.get("token", "")), request.headers.get("User-Agent", ""))
        if isinstance(result, str):
            return self._link_refused(result)
        cookie, session = result
        logger.info("web sign-in by %s (%s)", session.moderator.who, session.moderator.network)
        response = web.HTTPSeeOther("/admin", headers=_HEADERS)
        response.set_cookie(
            COOKIE,
            cookie,
            max_age=int((session.expires_at - session.created_at).total_seconds()),
            path="/admin",
            httponly=True,
            samesite="Strict",
            secure=self.secure or request.secure,
        )
        raise response

    def _link_refused(self, state: str) -> web.Response:
        reason = {
            "used": "This sign-in link was already used.",
            "expired": "This sign-in link has expired (links work for 10 minutes).",
        }.get(state, "This sign-in link is not valid.")
        logger.warning("web sign-in refused: link %s", state)
        return self._refuse(
            403, "Link refused", reason + " Send “kb web” to the bot in a direct message for a new one."
        )

    async def logout(self, request: web.Request, session: WebSession) -> web.Response:
        self.auth.revoke(session.key)
        response = web.HTTPSeeOther("/admin/login", headers=_HEADERS)
        response.del_cookie(COOKIE, path="/admin")
        raise response

    async def sessions(self, request: web.Request, session: WebSession) -> web.Response:
        return self.render("sessions.html", session=session, sessions=self.auth.sessions(), now=self.clock())

    async def revoke(self, request: web.Request, session: WebSession) -> web.Response:
        form = await request.post()
        key = str(form.get("key", ""))
        if self.auth.revoke(key):
            logger.info("web session revoked by %s", session.moderator.who)
        if key == session.key:
            raise web.HTTPSeeOther("/admin/login", headers=_HEADERS)
        self._see_other("/admin/sessions")

    # ------------------------------------------------------------ pages
    async def dashboard(self, request: web.Request, session: WebSession) -> web.Response:
        weeks = weekly(self.store)
        groups = self.log.open_groups(self.clock())
        totals = {k: sum(getattr(w, k) for w in weeks) for k in ("answered", "suggested", "fallback")}
        return self.render(
            "dashboard.html",
            session=session,
            weeks=weeks,
            totals=totals,
            asked=sum(totals.values()),
            weekly_svg=charts.weekly_chart(weeks),
            groups_svg=charts.top_groups_chart(groups),
            groups=groups[:8],
            kb=self.live.current.kb,
        )

    async def unanswered(self, request: web.Request, session: WebSession) -> web.Response:
        groups = self.log.open_groups(self.clock())
        page = _page_number(request)
        shown = groups[(page - 1) * GROUPS_PER_PAGE : page * GROUPS_PER_PAGE]
        kb = self.live.current.kb
        rows = [(g, self.log.near(self.service.bot, kb, g.text)) for g in shown]
        return self.render(
            "unanswered.html",
            session=session,
            rows=rows,
            total=len(groups),
            page=page,
            pages=max(1, -(-len(groups) // GROUPS_PER_PAGE)),
            ids=[e.id for e in kb.entries],
            saved=request.query.get("saved", ""),
            error=request.query.get("error", ""),
        )

    async def teach(self, request: web.Request, session: WebSession) -> web.Response:
        form = await request.post()
        # a typed id wins: Enter in that box submits with the first "Teach here" button's value too
        entry_id = (str(form.get("other", "")).strip() or str(form.get("entry", ""))).strip()
        question = str(form.get("question", "")).strip()
        key = str(form.get("key", ""))
        try:
            if not entry_id or not question:
                raise EditError("choose the entry that answers this question")
            self.moderation.teach(self._actor(session), entry_id, question)
        except EditError as exc:
            self._see_other("/admin/unanswered?" + urlencode({"error": str(exc)}))
        if key:
            self.log.mark_handled(key, self.clock())
        self._see_other("/admin/unanswered?" + urlencode({"saved": f"Taught {entry_id}: “{question}”"}))

    async def entries(self, request: web.Request, session: WebSession) -> web.Response:
        kb = self.live.current.kb
        query = request.query.get("q", "").strip()
        found = search_entries(kb, query)
        page = _page_number(request)
        question = request.query.get("probe", "").strip()[:500]
        return self.render(
            "entries.html",
            session=session,
            query=query,
            entries=found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE],
            total=len(found),
            page=page,
            pages=max(1, -(-len(found) // PAGE_SIZE)),
            question=question,
            result=probe(self.service.bot, question) if question else None,
            kb=kb,
        )

    async def probe_fragment(self, request: web.Request, session: WebSession) -> web.Response:
        question = request.query.get("text", "").strip()[:500]
        result = probe(self.service.bot, question) if question else None
        return self.render("probe.html", session=session, question=question, result=result)

    def _entry_form(self, entry_id: str) -> dict[str, str]:
        entry = self.live.current.kb.by_id[entry_id]
        return {
            "questions": "\n".join(entry.questions),
            "answer": entry.answer,
            "more": entry.more or "",
            "sources": "\n".join(entry.sources),
            "loaded": file_hash(self.live.current.texts.get(entry.file, "")),
        }

    async def entry(self, request: web.Request, session: WebSession) -> web.Response:
        entry = self.live.current.kb.by_id.get(request.match_info["id"])
        if entry is None:
            return self._refuse(404, "No such entry", "There is no entry with that id. Search the entries page.")
        return self.render(
            "entry.html",
            session=session,
            entry=entry,
            form=self._entry_form(entry.id),
            issues=[],
            problem="",
            saved=request.query.get("saved", ""),
        )

    async def save_entry(self, request: web.Request, session: WebSession) -> web.Response:
        kb = self.live.current.kb
        entry = kb.by_id.get(request.match_info["id"])
        if entry is None:
            return self._refuse(404, "No such entry", "That entry no longer exists (removed or renamed).")
        form = await request.post()
        values = {
            k: str(form.get(k, "")).replace("\r\n", "\n") for k in ("questions", "answer", "more", "sources", "loaded")
        }
        problem, issues, status = "", list[Issue](), 200
        if values["loaded"] != file_hash(self.live.current.texts.get(entry.file, "")):
            problem, status = self._conflict(entry.file), 409
        else:
            try:
                self.moderation.update(
                    self._actor(session),
                    entry.id,
                    questions=_lines(values["questions"]),
                    answer=values["answer"].strip(),
                    more=values["more"].strip() or None,
                    sources=_lines(values["sources"]),
                )
            except EditError as exc:
                if exc.conflict:
                    problem, status = self._conflict(entry.file), 409
                else:
                    issues, status = list(exc.issues), 422
                    problem = (
                        "Not saved: the knowledge base would not pass the check." if exc.issues else f"Not saved: {exc}"
                    )
            else:
                self._see_other(f"/admin/entries/{quote(entry.id)}?saved=1")
        return self.render(
            "entry.html", status, session=session, entry=entry, form=values, issues=issues, problem=problem, saved=""
        )

    @staticmethod
    def _conflict(file: str) -> str:
        return (
            f"Not saved: {file} changed since you opened this form (an edit from chat, an editor or a git pull). "
            "Your text is still below. Open the entry again in a new tab to see the current version, "
            "then apply your change to it."
        )

    async def new_form(self, request: web.Request, session: WebSession) -> web.Response:
        form = {"id": "", "questions": request.query.get("q", ""), "answer": "", "more": "", "sources": ""}
        return self.render("new.html", session=session, form=form, issues=[], problem="")

    async def new_entry(self, request: web.Request, session: WebSession) -> web.Response:
        form = await request.post()
        values = {
            k: str(form.get(k, "")).replace("\r\n", "\n") for k in ("id", "questions", "answer", "more", "sources")
        }
        try:
            self.moderation.add(
                self._actor(session),
                values["id"].strip(),
                _lines(values["questions"]),
                values["answer"].strip(),
                _lines(values["sources"]),
                values["more"].strip() or None,
            )
        except EditError as exc:
            issues = list(exc.issues)
            problem = "Not saved: the knowledge base would not pass the check." if issues else f"Not saved: {exc}"
            return self.render("new.html", 422, session=session, form=values, issues=issues, problem=problem)
        self._see_other(f"/admin/entries/{quote(values['id'].strip())}?saved=1")

    async def audit(self, request: web.Request, session: WebSession) -> web.Response:
        records = self.moderation.store.audit(limit=100)
        return self.render(
            "audit.html",
            session=session,
            records=[(r, diff_lines(r), self.moderation.undone(r)) for r in records],
            saved=request.query.get("saved", ""),
            error=request.query.get("error", ""),
        )

    async def undo(self, request: web.Request, session: WebSession) -> web.Response:
        raw = request.match_info["id"]
        try:
            done = self.moderation.undo(self._actor(session), int(raw)) if raw.isdigit() else None
        except EditError as exc:
            self._see_other("/admin/audit?" + urlencode({"error": f"Not undone: {exc}"}))
        if done is None:
            self._see_other("/admin/audit?" + urlencode({"error": "That edit was already undone or is unknown."}))
        self._see_other("/admin/audit?" + urlencode({"saved": f"Undid edit #{raw}."}))

    async def questionnaire(self, request: web.Request, session: WebSession) -> web.Response:
        q = self.live.current.kb.questionnaire
        return self.render(
            "questionnaire.html",
            session=session,
            q=q,
            graph=charts.questionnaire_graph(q) if q else None,
        )
