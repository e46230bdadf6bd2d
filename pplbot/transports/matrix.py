"""The Matrix transport: matrix-nio in, the service, matrix-nio out.

`MatrixTransport.run(stop)` logs in (password or access token; device id and token kept in
`data_dir/matrix/session.json`, the E2EE store in `data_dir/matrix/crypto`), then syncs in a
reconnect loop. Each sync response is handled here, in order, after nio has updated its room
state and decrypted what it can: invites are joined (if `matrix_allowed` permits), messages go
through `to_incoming` -> `Service.handle` -> `render` -> `room_send`. The sync token is saved
only after a whole batch is handled, and every handled event id is recorded (`EventLedger`), so
a restart or reconnect neither loses nor repeats messages; messages older than
`matrix_max_age_minutes` are skipped. One error boundary per event logs, apologises and carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Awaitable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from uuid import uuid4

from nio import (
    Api,
    AsyncClient,
    AsyncClientConfig,
    ErrorResponse,
    InviteMemberEvent,
    JoinResponse,
    LocalProtocolError,
    LoginResponse,
    MatrixRoom,
    MegolmEvent,
    ProfileGetDisplayNameResponse,
    RoomCreateEvent,
    RoomGetEventResponse,
    RoomSendResponse,
    SyncResponse,
    WhoamiResponse,
)

from pplbot.config import Settings
from pplbot.core.messages import ChatKind, Incoming, Reply, ReplyKind
from pplbot.core.sessions import SessionKey
from pplbot.errors import StoreError
from pplbot.service import Service
from pplbot.store.sqlite import SqliteStore
from pplbot.transports.markup import to_html
from pplbot.transports.matrix_events import (
    KEYCAPS,
    LEAVE,
    NETWORK,
    Context,
    Edit,
    QuestionRef,
    edit_of,
    edited,
    invite_allowed,
    render,
    to_incoming,
    too_old,
)

__all__ = ["STATES", "EventLedger", "MatrixTransport"]

logger = logging.getLogger(__name__)

ROOMS_AT_ONCE = 8  # rooms whose new events are handled concurrently

STATES = ("connecting", "connected", "down")  # the values of MatrixTransport.state
T = TypeVar("T")

SORRY = "Sorry, something went wrong on my side. Please try again."
UNDECRYPTABLE = "I couldn't decrypt that message (the encryption keys didn't reach me). Please resend it."
LEAVING = "Leaving this room, as asked by a moderator."
NOT_MODERATOR = "Only a moderator can ask me to leave this room."
GREETING = (
    "Hello! I answer questions about the Peer Production License (PPL) and open cooperativism,"
    " citing the licence sections. Ask with [[ask your question]] or mention me;"
    " [[quiz]] checks step by step whether your use of a PPL work is permitted. [[help]] lists the rest."
)
EDIT_WINDOW = timedelta(minutes=2)  # an edit this soon after a question that is not yet answered replaces it
SEND_ATTEMPTS = 3
MAX_RATE_LIMITED = 20
TIMELINE_LIMIT = 200  # events per room and sync: what arrived while the bot was down (more: logged as a gap)
SYNC_FILTER: dict[str, Any] = {"room": {"timeline": {"limit": TIMELINE_LIMIT}}}
_TOKEN_KEY = "matrix:sync_token:"


class _Stopped(Exception):
    """The stop event was set while waiting."""


class EventLedger:
    """What the transport remembers about events, in the bot's SQLite database.

    kinds: "handled" (incoming events already answered: nothing is answered twice), "sent" (the
    bot's own messages: replies to them are for the bot), "question" (a questionnaire question
    -> session key and option values, for reactions). Rows older than `keep` are pruned at start.
    """

    def __init__(self, store: SqliteStore, keep: timedelta = timedelta(days=7)) -> None:
        self.store = store
        store.execute(  # a StoreError here is a start-up problem: raised
            "CREATE TABLE IF NOT EXISTS matrix_events ("
            " kind TEXT NOT NULL, event_id TEXT NOT NULL, data TEXT NOT NULL DEFAULT '', at REAL NOT NULL,"
            " PRIMARY KEY (kind, event_id))"
        )
        store.execute("DELETE FROM matrix_events WHERE at < ?", (time.time() - keep.total_seconds(),))

    def claim(self, event_id: str) -> bool:
        """Record an incoming event as handled; False if it already was (True if the store is down)."""
        return self._add_once("handled", event_id, store_down=True)

    def handled(self, event_id: str) -> bool:
        return self._get("handled", event_id) is not None

    def remember_sent(self, event_id: str) -> None:
        self._put("sent", event_id, "")

    def remember_question(self, event_id: str, ref: QuestionRef) -> None:
        k = ref.key
        self._put("question", event_id, json.dumps({"key": [k.chat, k.user, k.thread], "options": list(ref.options)}))
        if k.thread is not None:
            self._put("quiz-thread", f"{k.chat}|{k.user}", k.thread)

    def quiz_thread(self, room_id: str, user: str) -> str | None:
        """The thread of the latest questionnaire question sent to `user` in `room_id`."""
        return self._get("quiz-thread", f"{room_id}|{user}") or None

    def greeted(self, room_id: str) -> bool:
        """True if the room was already greeted; records the greeting otherwise (once per room)."""
        return not self._add_once("greeted", room_id, store_down=False)

    def is_bot_event(self, event_id: str) -> bool:
        return self._get("sent", event_id) is not None

    def question(self, event_id: str) -> QuestionRef | None:
        found = self._get("question", event_id)
        if found is None:
            return None
        try:
            data = json.loads(found)
            chat, user, thread = data["key"]
            return QuestionRef(SessionKey(NETWORK, chat, user, thread), tuple(str(v) for v in data["options"]))
        except (ValueError, KeyError, TypeError):
            return None

    def _add_once(self, kind: str, event_id: str, *, store_down: bool) -> bool:
        """Insert a row unless it exists: True if this call added it (`store_down` if the store fails)."""
        rows = self._execute(
            "INSERT INTO matrix_events (kind, event_id, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING RETURNING event_id",
            (kind, event_id, time.time()),
            failed=[(event_id,)] if store_down else [],
        )
        return bool(rows)

    def _get(self, kind: str, event_id: str) -> str | None:
        """A row's data, or None if there is no row."""
        rows = self._execute("SELECT data FROM matrix_events WHERE kind = ? AND event_id = ?", (kind, event_id))
        return str(rows[0][0]) if rows else None

    def _put(self, kind: str, event_id: str, data: str) -> None:
        self._execute(
            "INSERT OR REPLACE INTO matrix_events (kind, event_id, data, at) VALUES (?, ?, ?, ?)",
            (kind, event_id, data, time.time()),
        )

    def _execute(
        self, sql: str, params: tuple[object, ...], failed: list[tuple[object, ...]] | None = None
    ) -> list[tuple[object, ...]]:
        """A store failure is logged and answered with `failed`: the bot keeps answering."""
        try:
            return self.store.execute(sql, params)
        except StoreError as exc:
            logger.error("matrix: event ledger unavailable: %s", exc)
            return failed or []


class _Known:
    """`matrix_events.Known` over the ledger and the service's sessions."""

    def __init__(self, ledger: EventLedger, service: Service) -> None:
        self.ledger = ledger
        self.service = service
        self.creators: dict[str, frozenset[str]] = {}

    def is_bot_event(self, event_id: str) -> bool:
        return self.ledger.is_bot_event(event_id)

    def question(self, event_id: str) -> QuestionRef | None:
        return self.ledger.question(event_id)

    def quiz_running(self, key: SessionKey) -> bool:
        session = self.service.session(key)
        return session is not None and session.quiz is not None

    def quiz_thread(self, room_id: str, user: str) -> str | None:
        thread = self.ledger.quiz_thread(room_id, user)
        if thread is None or not self.quiz_running(SessionKey(NETWORK, room_id, user, thread)):
            return None
        return thread

    def room_creators(self, room_id: str) -> frozenset[str]:
        return self.creators.get(room_id, frozenset())

    def learn(self, room_id: str, events: list[Any]) -> None:
        """Remember the room's creators from its m.room.create event."""
        for event in events:
            if isinstance(event, RoomCreateEvent):
                content = event.source.get("content", {})
                extra = content.get("additional_creators") if isinstance(content, dict) else None
                more = [u for u in extra if isinstance(u, str)] if isinstance(extra, list) else []
                self.creators[room_id] = frozenset([event.sender, *more])


class MatrixTransport:
    """Connects the service to Matrix until `stop` is set. `state` is for health checks."""

    def __init__(
        self,
        service: Service,
        settings: Settings,
        store: SqliteStore,
        *,
        retry_delay: float = 0.5,
        max_retry_delay: float = 30.0,
        poll_ms: int = 30_000,
    ) -> None:
        if not settings.matrix_homeserver or not settings.matrix_user_id:
            raise ValueError("matrix_homeserver and matrix_user_id must be set")
        self.service = service
        self.settings = settings
        self.store = store
        self.state: str = "connecting"
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self.poll_ms = poll_ms
        self.dir = settings.data_dir / "matrix"
        self.session_file = self.dir / "session.json"
        self.max_age = timedelta(minutes=settings.matrix_max_age_minutes)
        self.ledger = EventLedger(store)
        self.known = _Known(self.ledger, service)
        self.ctx = Context(
            bot_id=settings.matrix_user_id,
            prefix=settings.matrix_command_prefix,
            moderators=frozenset(settings.matrix_moderators),
            power_level_moderators=settings.matrix_power_level_moderators,
        )
        self.client: AsyncClient | None = None
        self._stop = asyncio.Event()
        self._rooms_at_once = asyncio.Semaphore(ROOMS_AT_ONCE)
        self._to_greet: set[str] = set()  # rooms joined; greeted once they appear in a sync

    # ------------------------------------------------------------------ lifecycle
    async def run(self, stop: asyncio.Event) -> None:
        """Log in and sync until `stop` is set; reconnects with backoff; closes the client."""
        self._stop = stop
        crypto = self.dir / "crypto"
        crypto.mkdir(parents=True, exist_ok=True, mode=0o700)
        config = AsyncClientConfig(
            encryption_enabled=True,
            store_sync_tokens=True,
            max_limit_exceeded=0,  # 429s come back as values: retried here after retry_after_ms
            max_timeouts=0,  # connection errors raise at once: the reconnect loop below backs off
            request_timeout=30,
        )
        self.client = AsyncClient(
            self.settings.matrix_homeserver or "", self.ctx.bot_id, store_path=str(crypto), config=config
        )
        try:
            await self._login()
            await self._sync_loop()
        except _Stopped:
            pass
        finally:
            self.state = "down"
            await self.client.close()
            logger.info("matrix transport stopped")

    @property
    def _c(self) -> AsyncClient:
        assert self.client is not None
        return self.client

    async def _wait(self, awaitable: Awaitable[T]) -> T:
        """Await, unless `stop` is set first (then cancel it and raise _Stopped)."""
        task = asyncio.ensure_future(awaitable)
        waiter = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:  # we were cancelled: take the request down with us
            task.cancel()
            raise
        finally:
            waiter.cancel()
        if task.done():
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        raise _Stopped

    async def _sleep(self, seconds: float) -> None:
        if self._stop.is_set():
            raise _Stopped
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)
        if self._stop.is_set():
            raise _Stopped

    async def _backoff(self, delay: float, what: str, detail: object) -> float:
        self.state = "down"
        logger.warning("%s failed (%s); retrying in %.1f s", what, detail, delay)
        await self._sleep(delay)
        return min(delay * 2, self.max_retry_delay)

    # ------------------------------------------------------------------ login
    async def _login(self) -> None:
        c = self._c
        saved = self._load_session()
        token = self.settings.matrix_access_token
        if saved and (token is None or saved.get("access_token") == token):
            store_file = Path(c.store_path) / f"{self.ctx.bot_id}_{saved['device_id']}.db"
            if store_file.exists() or not self.settings.matrix_password:
                c.restore_login(self.ctx.bot_id, saved["device_id"], saved["access_token"])
                logger.info("matrix: resumed device %s", saved["device_id"])
                self._log_identity()
                await self._load_names()
                return
            logger.warning(
                "matrix: the crypto store for device %s is missing; logging in as a new device", saved["device_id"]
            )
        delay = self.retry_delay
        while True:
            try:
                if token:
                    c.access_token = token
                    resp: Any = await self._wait(c.whoami())
                    if isinstance(resp, WhoamiResponse) and resp.device_id:
                        c.restore_login(self.ctx.bot_id, resp.device_id, token)
                        break
                if self.settings.matrix_password and not (token and isinstance(resp, WhoamiResponse)):
                    resp = await self._wait(c.login(self.settings.matrix_password, device_name="pplbot"))
                    if isinstance(resp, LoginResponse):
                        break
                detail: object = getattr(resp, "status_code", None) or type(resp).__name__
            except _Stopped:
                raise
            except Exception as exc:
                detail = type(exc).__name__
            delay = await self._backoff(delay, "matrix login", detail)
        self._save_session()
        logger.info("matrix: logged in as %s, device %s", c.user_id, c.device_id)
        self._log_identity()
        await self._load_names()

    def _log_identity(self) -> None:
        """Log the device id and its ed25519 key, so a moderator can verify the device by hand."""
        olm = getattr(self._c, "olm", None)
        keys = getattr(getattr(olm, "account", None), "identity_keys", None) or {}
        logger.info(
            "matrix: device %s, ed25519 key %s (compare in your client to verify this device)",
            self._c.device_id,
            keys.get("ed25519", "unknown"),
        )

    async def _relogin(self) -> None:
        """The access token was rejected: log in again with the password, keeping the device."""
        if not self.settings.matrix_password:
            logger.error("matrix: the access token was rejected and no password is set")
            return
        try:
            resp: Any = await self._wait(self._c.login(self.settings.matrix_password, device_name="pplbot"))
        except _Stopped:
            raise
        except Exception as exc:
            logger.warning("matrix: login failed (%s)", type(exc).__name__)
            return
        if isinstance(resp, LoginResponse):
            self._save_session()
            logger.info("matrix: logged in again, device %s", resp.device_id)

    async def _load_names(self) -> None:
        with contextlib.suppress(Exception):
            resp: Any = await self._wait(self._c.get_displayname())
            if isinstance(resp, ProfileGetDisplayNameResponse) and resp.displayname:
                self.ctx = replace(self.ctx, bot_names=(str(resp.displayname),))

    def _load_session(self) -> dict[str, str] | None:
        try:
            data = json.loads(self.session_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("user_id") != self.ctx.bot_id:
            return None
        if data.get("homeserver") != self.settings.matrix_homeserver:
            return None
        if not isinstance(data.get("device_id"), str) or not isinstance(data.get("access_token"), str):
            return None
        return {k: str(v) for k, v in data.items()}

    def _save_session(self) -> None:
        c = self._c
        data = {
            "homeserver": self.settings.matrix_homeserver,
            "user_id": c.user_id,
            "device_id": c.device_id,
            "access_token": c.access_token,
        }
        tmp = self.session_file.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out)
        tmp.replace(self.session_file)

    # ------------------------------------------------------------------ sync
    async def _sync_loop(self) -> None:
        c = self._c
        token_key = _TOKEN_KEY + self.ctx.bot_id
        token = self._get(token_key) or c.loaded_sync_token or None
        history = token is None  # the very first sync replays history: join invites, answer nothing
        first = True
        delay = self.retry_delay
        while True:
            known_rooms = set(c.rooms) if not first else None  # None: every room (a restart)
            try:
                resp: Any = await self._wait(
                    c.sync(
                        timeout=0 if first else self.poll_ms,
                        sync_filter=SYNC_FILTER,
                        since=token,
                        full_state=True if first else None,
                    )
                )
            except _Stopped:
                raise
            except Exception as exc:
                delay = await self._backoff(delay, "matrix sync", type(exc).__name__)
                continue
            if not isinstance(resp, SyncResponse):
                code = getattr(resp, "status_code", None)
                if code == "M_UNKNOWN_TOKEN":
                    await self._relogin()
                retry_ms = getattr(resp, "retry_after_ms", None)
                if retry_ms:
                    self.state = "down"
                    await self._sleep(retry_ms / 1000)
                else:
                    delay = await self._backoff(delay, "matrix sync", code or type(resp).__name__)
                continue
            if self.state != "connected":
                logger.info("matrix: connected")
            self.state = "connected"
            delay = self.retry_delay
            await self._key_chores()
            await self._handle_sync(resp, history, known_rooms)
            token, first, history = resp.next_batch, False, False
            self._set(token_key, token)

    async def _key_chores(self) -> None:
        """What nio's sync_forever does between syncs for E2EE: to-device messages and keys."""
        c = self._c
        if c.olm is None:
            return
        try:
            if c.outgoing_to_device_messages:
                await self._wait(c.send_to_device_messages())
            if c.should_upload_keys:
                await self._wait(c.keys_upload())
            if c.should_query_keys:
                await self._wait(c.keys_query())
            if c.should_claim_keys:
                await self._wait(c.keys_claim(c.get_users_for_key_claiming()))
        except _Stopped:
            raise
        except Exception as exc:
            logger.warning("matrix: key upload/query failed (%s); will retry", type(exc).__name__)

    async def _handle_sync(self, resp: SyncResponse, history: bool, known_rooms: set[str] | None) -> None:
        for room_id, info in resp.rooms.invite.items():
            await self._on_invite(room_id, info.invite_state)
        for room_id, info in resp.rooms.join.items():
            self.known.learn(room_id, [*info.state, *info.timeline.events])
        await self._greet(resp)
        if history:
            return
        batches = []
        for room_id, info in resp.rooms.join.items():
            room = self._c.rooms.get(room_id)
            if room is None:
                continue
            if info.timeline.limited and (known_rooms is None or room_id in known_rooms):  # not a new join
                logger.warning("matrix: a gap in %s's timeline (more than %d new events)", room_id, TIMELINE_LIMIT)
            batches.append(self._room_events(room, info.timeline.events))
        # rooms are independent: handle them side by side, each room's events in order
        await asyncio.gather(*batches)

    async def _room_events(self, room: MatrixRoom, events: list[Any]) -> None:
        """A room's new events in order. A question that is edited later in the same batch (the
        bot was catching up) is answered once, in its edited form, when the edit comes."""
        async with self._rooms_at_once:
            batch = {getattr(e, "event_id", None): e for e in events}
            edits = {edit.original: edit for e in events if (edit := edit_of(e)) is not None}
            for event in events:
                edit = edit_of(event)
                if edit is not None:
                    await self._on_edit(room, edit, batch.get(edit.original))
                elif (later := edits.get(str(getattr(event, "event_id", "")))) and edited(event, later, EDIT_WINDOW):
                    continue
                else:
                    await self._on_event(room, event)

    async def _on_edit(self, room: MatrixRoom, edit: Edit, original: Any) -> None:
        """An edit of a question that was not answered yet is handled as that question."""
        try:
            if self.ledger.handled(edit.original):
                return  # answered already: the edit is ignored
            if original is None:
                resp: Any = await self._c.room_get_event(room.room_id, edit.original)
                if not isinstance(resp, RoomGetEventResponse):
                    return
                original = resp.event
                if isinstance(original, MegolmEvent):
                    original = self._c.decrypt_event(original)
            replaced = edited(original, edit, EDIT_WINDOW)
        except Exception:
            logger.exception("matrix: error while reading the message edited in %s", room.room_id)
            return
        if replaced is not None:
            await self._on_event(room, replaced)

    async def _greet(self, resp: SyncResponse) -> None:
        """One notice in each group room the bot joined, once per room, never again after restarts."""
        for room_id in [r for r in self._to_greet if r in resp.rooms.join]:
            room = self._c.rooms.get(room_id)
            if room is None:
                continue
            self._to_greet.discard(room_id)
            if room.member_count > 2 and not self.ledger.greeted(room_id):
                notice = Reply(GREETING, ReplyKind.INFO)
                await self._send(room_id, "m.room.message", render(notice))

    # ------------------------------------------------------------------ rooms
    async def _on_invite(self, room_id: str, invite_state: list[Any]) -> None:
        try:
            inviter = next(
                (
                    e.sender
                    for e in invite_state
                    if isinstance(e, InviteMemberEvent) and e.state_key == self.ctx.bot_id and e.membership == "invite"
                ),
                None,
            )
            if not invite_allowed(self.settings.matrix_allowed, room_id, inviter):
                logger.info("matrix: declining an invite to %s from %s (not in matrix_allowed)", room_id, inviter)
                await self._c.room_leave(room_id)
                return
            for attempt in range(1, SEND_ATTEMPTS + 1):
                try:
                    resp: Any = await self._c.join(room_id)
                except Exception as exc:
                    resp = exc
                if isinstance(resp, JoinResponse):
                    logger.info("matrix: joined %s (invited by %s)", room_id, inviter)
                    self._to_greet.add(room_id)
                    return
                logger.warning(
                    "matrix: joining %s failed (%s)", room_id, getattr(resp, "status_code", type(resp).__name__)
                )
                if attempt < SEND_ATTEMPTS:
                    await asyncio.sleep(self._retry_wait(resp, attempt))
            logger.error("matrix: could not join %s", room_id)
        except Exception:
            logger.exception("matrix: error while handling an invite to %s", room_id)

    async def _leave(self, room: MatrixRoom, incoming: Incoming) -> None:
        if not incoming.is_moderator:
            await self._deliver(room, incoming, [Reply(NOT_MODERATOR, reply_to=incoming.message_id)])
            return
        await self._deliver(room, incoming, [Reply(LEAVING, reply_to=incoming.message_id)])
        resp: Any = await self._c.room_leave(room.room_id)
        logger.info("matrix: left %s at a moderator's request (%s)", room.room_id, type(resp).__name__)

    # ------------------------------------------------------------------ events
    async def _on_event(self, room: MatrixRoom, event: Any) -> None:
        """One event, with its own error boundary."""
        incoming: Incoming | None = None
        event_id = getattr(event, "event_id", "?")
        try:
            if getattr(event, "sender", None) == self.ctx.bot_id:
                return
            if too_old(event, datetime.now(UTC), self.max_age):
                logger.debug("matrix: skipping old event %s", event_id)
                return
            if isinstance(event, MegolmEvent):
                await self._undecryptable(room, event)
                return
            incoming = to_incoming(event, room, self.ctx, self.known)
            if incoming is None or not self.ledger.claim(event_id):
                incoming = None
                return
            logger.info("matrix: message %s in %s", event_id, room.room_id)
            logger.debug("matrix: text %r option %r", incoming.text, incoming.option)
            if incoming.text == LEAVE:
                await self._leave(room, incoming)
                return
            await self._deliver(room, incoming, self.service.handle(incoming))
        except Exception:
            logger.exception("matrix: error while handling event %s in %s", event_id, room.room_id)
            if incoming is not None:
                with contextlib.suppress(Exception):
                    await self._deliver(room, incoming, [Reply(SORRY, ReplyKind.ERROR, reply_to=incoming.message_id)])

    async def _undecryptable(self, room: MatrixRoom, event: MegolmEvent) -> None:
        if not self.ledger.claim(event.event_id):
            return
        logger.warning("matrix: could not decrypt %s in %s from %s", event.event_id, room.room_id, event.sender)
        with contextlib.suppress(LocalProtocolError):  # already requested for this session
            await self._c.request_room_key(event)
        flag = f"matrix:undecryptable:{room.room_id}:{event.sender}"
        if self._get(flag):
            return
        self._set(flag, datetime.now(UTC).isoformat())
        incoming = Incoming(
            NETWORK,
            room.room_id,
            event.sender,
            "",
            datetime.now(UTC),
            ChatKind.DIRECT if room.member_count <= 2 else ChatKind.GROUP,
            message_id=event.event_id,
        )
        await self._deliver(room, incoming, [Reply(UNDECRYPTABLE, ReplyKind.ERROR, reply_to=event.event_id)])

    async def _deliver(self, room: MatrixRoom, incoming: Incoming, replies: list[Reply]) -> None:
        """Send the replies in order; a question in a group room's main timeline starts a thread."""
        key = SessionKey.of(incoming)
        thread = incoming.thread
        group = incoming.chat_kind is ChatKind.GROUP
        for reply in replies:
            if reply.kind is ReplyKind.QUESTION and group and thread is None and incoming.message_id:
                thread = incoming.message_id
                new_key = replace(key, thread=thread)
                self.service.move_session(key, new_key)
                key = new_key
            content = render(reply, thread=thread, mention=incoming.user if group else None)
            event_id = await self._send(room.room_id, "m.room.message", content)
            if event_id is None:
                continue
            self.ledger.remember_sent(event_id)
            if reply.kind is ReplyKind.QUESTION and reply.options:
                values = tuple(o.value for o in reply.options)
                self.ledger.remember_question(event_id, QuestionRef(key, values))
                self.service.set_quiz_message(key, event_id)
                await asyncio.gather(
                    *(
                        self._send(
                            room.room_id,
                            "m.reaction",
                            {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": keycap}},
                        )
                        for keycap in KEYCAPS[: len(values)]
                    )
                )

    async def notify_moderators(self, text: str) -> None:
        """Report to the moderators' room, if one is configured (e.g. a failed knowledge reload)."""
        room = self.settings.matrix_moderators_room
        if room and self.client is not None and self.state == "connected":
            content = {
                "msgtype": "m.notice",
                "body": text,
                "format": "org.matrix.custom.html",
                "formatted_body": to_html(text),
            }
            await self._send(room, "m.room.message", content)

    async def _send(self, room_id: str, event_type: str, content: dict[str, Any]) -> str | None:
        """room_send with retries: 3 attempts with backoff; 429s wait retry_after_ms and don't count."""
        txn = str(uuid4())  # the same transaction id on every attempt: the server keeps one copy
        failures = limited = 0
        while failures < SEND_ATTEMPTS and limited < MAX_RATE_LIMITED:
            try:
                if event_type == "m.reaction" and self._encrypted(room_id):
                    resp: Any = await self._send_encrypted(room_id, event_type, content, txn)
                else:
                    resp = await self._c.room_send(
                        room_id, event_type, content, tx_id=txn, ignore_unverified_devices=True
                    )
            except Exception as exc:
                failures += 1
                detail: object = type(exc).__name__
                wait = self.retry_delay * 2 ** (failures - 1)
            else:
                if isinstance(resp, RoomSendResponse):
                    return str(resp.event_id)
                detail = getattr(resp, "status_code", None) or type(resp).__name__
                if isinstance(resp, ErrorResponse) and resp.retry_after_ms:
                    limited += 1
                    wait = resp.retry_after_ms / 1000
                else:
                    failures += 1
                    wait = self.retry_delay * 2 ** (failures - 1)
            logger.warning("matrix: sending %s to %s failed (%s)", event_type, room_id, detail)
            if failures < SEND_ATTEMPTS:
                await asyncio.sleep(min(wait, self.max_retry_delay))
        logger.error("matrix: gave up sending %s to %s", event_type, room_id)
        return None

    def _encrypted(self, room_id: str) -> bool:
        room = self._c.rooms.get(room_id)
        return self._c.olm is not None and room is not None and bool(room.encrypted)

    async def _send_encrypted(self, room_id: str, event_type: str, content: dict[str, Any], txn: str) -> Any:
        """Encrypt and send an event that matrix-nio's room_send would send in the clear (it leaves
        reactions unencrypted). The relation stays readable to the server, as the spec requires."""
        c = self._c
        if c.olm is not None and c.olm.should_share_group_session(room_id):
            await c.share_group_session(room_id, ignore_unverified_devices=True)
        kind, encrypted = c.encrypt(room_id, event_type, content)
        method, path, data = Api.room_send(c.access_token, room_id, kind, encrypted, txn)
        return await c._send(RoomSendResponse, method, path, data, (room_id,))

    def _retry_wait(self, resp: object, attempt: int) -> float:
        retry_ms = getattr(resp, "retry_after_ms", None)
        if isinstance(retry_ms, int) and retry_ms > 0:
            return retry_ms / 1000
        return float(min(self.retry_delay * 2 ** (attempt - 1), self.max_retry_delay))

    # ------------------------------------------------------------------ kv
    def _get(self, name: str) -> str | None:
        try:
            return self.store.get_value(name)
        except StoreError as exc:
            logger.error("matrix: cannot read %s: %s", name.split(":")[1], exc)
            return None

    def _set(self, name: str, value: str) -> None:
        try:
            self.store.set_value(name, value)
        except StoreError as exc:
            logger.error("matrix: cannot save %s: %s", name.split(":")[1], exc)
