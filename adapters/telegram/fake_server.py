"""A fake Telegram Bot API server on 127.0.0.1, for testing adapters and plugins with the real client.

It speaks the Bot API's JSON shapes (``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": ...,
"description": ...}``) at ``/bot<token>/<method>`` for the methods a chat bot uses, validates requests like
Telegram does (text length in UTF-16 units, empty texts, unmodified edits, MarkdownV2/HTML entities, button
data size, webhook secret charset) and records every call::

    async with FakeTelegramServer() as tg:
        adapter = TelegramAdapter(TelegramSettings(token=tg.token, base_url=tg.base_url, ...))
        await adapter.start(bot)
        tg.message_update("hello")                  # queued for getUpdates
        (call,) = await tg.wait_for("sendMessage")
        assert call.params["text"] == "..."

``fail_next(n)`` makes the next calls answer HTTP 429 with ``retry_after``; ``fail_for(seconds)`` answers
every call with 429 or 5xx for a while (an outage); ``deliver()`` posts an update to
a webhook as Telegram would, with the secret-token header. ``photo_update()`` and ``document_update()`` send
the bot a file that ``getFile`` and the file URL then serve; ``uploads()`` are the files the bot sent, byte
for byte. A chat in ``blocked_chats``, ``kicked_chats`` or ``missing_chats`` refuses the bot as Telegram
does (403 "Forbidden: bot was blocked by the user", 403 "Forbidden: bot was kicked from the group chat",
400 "Bad Request: chat not found").
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from botkit.adapters.telegram.fake_checks import (
    NOT_MODIFIED,
    ApiError,
    check_html,
    check_markdown_v2,
    check_markup,
    check_text,
    need_int,
)
from botkit.adapters.telegram.fake_files import FakeFiles, Upload

__all__ = ["ApiCall", "ApiError", "FakeTelegramServer", "Upload", "check_html", "check_markdown_v2"]

_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
# What fail_for answers, in turn: the status and Telegram's description of it.
_OUTAGE_STATUSES = {
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
_CHAT_ACTIONS = {"typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice"}
_CHAT_ACTIONS |= {
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
}


@dataclass
class ApiCall:
    """One request the fake received.

    Attributes:
        method: the Bot API method, as documented ("sendMessage").
        params: its parameters, JSON values decoded.
        status: the HTTP status answered.
        at: when it arrived (``time.monotonic()``).
    """

    method: str
    params: dict[str, Any]
    status: int
    at: float


class FakeTelegramServer:
    """The Bot API for one bot, in memory.

    Args:
        token: the bot token the client must use (any other answers 401).
        bot_id: the bot's user id (``getMe``).
        bot_username: the bot's username, without "@".

    Attributes:
        calls: every call received, in order.
        messages: the bot's sent messages as they are now (after edits), by (chat_id, message_id).
        webhook: the ``setWebhook`` parameters while a webhook is set, else None.
        commands: the last ``setMyCommands`` list.
        blocked_chats: chat ids where sending answers 403 ("bot was blocked by the user").
        kicked_chats: group ids where sending answers 403 ("bot was kicked from the group chat").
        missing_chats: chat ids where sending answers 400 ("chat not found").
        files: the files users sent and the bot uploaded.
    """

    def __init__(
        self,
        token: str = "123456789:TEST-fake-token",
        *,
        bot_id: int = 123456789,
        bot_username: str = "botkit_test_bot",
    ) -> None:
        self.token = token
        self.me = {"id": bot_id, "is_bot": True, "first_name": "Botkit Test", "username": bot_username}
        self.calls: list[ApiCall] = []
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.webhook: dict[str, Any] | None = None
        self.commands: list[dict[str, Any]] = []
        self.blocked_chats: set[int] = set()
        self.kicked_chats: set[int] = set()
        self.missing_chats: set[int] = set()
        self.files = FakeFiles()
        self.confirmed_offset = 0
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1000)
        self._message_ids = itertools.count(5000)
        self._chats: dict[int, dict[str, Any]] = {}
        self._failures: list[tuple[str | None, int]] = []
        self._outage: tuple[float, int, itertools.count[int]] | None = None  # until, retry_after, turns
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._closing = False
        self.port = 0

    # -- life cycle -------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """What to give the client as its Bot API base URL (the token is appended by the client)."""
        return f"http://127.0.0.1:{self.port}/bot"

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._dispatch)
        app.router.add_get("/file/bot{token}/{path:.+}", self._serve_file)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        """Stop listening; pending long polls return at once."""
        self._closing = True
        self._changed.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegramServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- what tests drive -------------------------------------------------------------------------
    def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update for ``getUpdates`` (an ``update_id`` is added when missing); returns it."""
        update.setdefault("update_id", next(self._update_ids))
        for key in ("message", "edited_message", "channel_post", "callback_query"):
            item = update.get(key)
            item = item.get("message", item) if isinstance(item, dict) and key == "callback_query" else item
            chat = item.get("chat") if isinstance(item, dict) else None
            if isinstance(chat, dict) and "id" in chat:
                self._chats.setdefault(int(chat["id"]), chat)
        self._updates.append(update)
        self._changed.set()
        return update

    def message_update(
        self,
        text: str,
        *,
        chat_id: int = 1001,
        user_id: int | None = None,
        chat_type: str = "private",
        message_id: int | None = None,
        entities: list[dict[str, Any]] | None = None,
        reply_to_bot: int | None = None,
        language_code: str | None = None,
        push: bool = True,
    ) -> dict[str, Any]:
        """Build (and by default queue) a text message update from a user.

        ``reply_to_bot`` makes it a reply to that message id of the bot's; ``language_code`` is the
        user's app language as Telegram reports it.
        """
        uid = user_id if user_id is not None else (chat_id if chat_type == "private" else 2001)
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        chat.update({"first_name": "Tess"} if chat_type == "private" else {"title": "Test group"})
        message: dict[str, Any] = {
            "message_id": message_id if message_id is not None else next(self._message_ids),
            "from": {"id": uid, "is_bot": False, "first_name": "Tess", "username": "tess"},
            "chat": chat,
            "date": int(time.time()),
            "text": text,
        }
        if language_code is not None:
            message["from"]["language_code"] = language_code
        if entities is not None:
            message["entities"] = entities
        elif text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        if reply_to_bot is not None:
            message["reply_to_message"] = {
                "message_id": reply_to_bot,
                "from": self.me,
                "chat": chat,
                "date": int(time.time()),
                "text": "...",
            }
        update = {"message": message}
        return self.push_update(update) if push else update

    def photo_update(
        self,
        data: bytes,
        *,
        chat_id: int = 1001,
        caption: str | None = None,
        declare_size: bool = True,
        push: bool = True,
    ) -> dict[str, Any]:
        """Build (and by default queue) a user's photo; ``declare_size=False`` leaves ``file_size`` out."""
        return self._file_update(
            {"photo": self.files.photo(data, declare_size=declare_size)}, chat_id, caption, push
        )

    def document_update(
        self,
        data: bytes,
        *,
        name: str,
        mime_type: str = "application/octet-stream",
        chat_id: int = 1001,
        caption: str | None = None,
        declare_size: bool = True,
        push: bool = True,
    ) -> dict[str, Any]:
        """Build (and by default queue) a file (a document) from a user."""
        document = self.files.document(data, name=name, mime_type=mime_type, declare_size=declare_size)
        return self._file_update({"document": document}, chat_id, caption, push)

    def _file_update(
        self, fields: dict[str, Any], chat_id: int, caption: str | None, push: bool
    ) -> dict[str, Any]:
        update = self.message_update("", chat_id=chat_id, push=False)
        message = update["message"]
        del message["text"]
        message.update(fields)
        if caption:
            message["caption"] = caption
        return self.push_update(update) if push else update

    def uploads(self, chat_id: int | None = None) -> list[tuple[ApiCall, Upload]]:
        """Files the bot sent (``sendPhoto``/``sendDocument`` that succeeded), to one chat when given."""
        found = []
        for call in self.calls:
            if call.method in ("sendPhoto", "sendDocument") and call.status == 200:
                if chat_id is None or int(call.params["chat_id"]) == chat_id:
                    upload = call.params["photo" if call.method == "sendPhoto" else "document"]
                    found.append((call, upload))
        return found

    def button_update(
        self,
        data: str,
        *,
        chat_id: int = 1001,
        message_id: int = 1,
        user_id: int | None = None,
        push: bool = True,
    ) -> dict[str, Any]:
        """Build (and by default queue) a callback query: a press under bot message ``message_id``."""
        uid = user_id if user_id is not None else chat_id
        update = {
            "callback_query": {
                "id": str(next(self._update_ids)),
                "from": {"id": uid, "is_bot": False, "first_name": "Tess"},
                "message": {
                    "message_id": message_id,
                    "from": self.me,
                    "date": int(time.time()),
                    "text": "pick one",
                    "chat": self._chats.get(
                        chat_id, {"id": chat_id, "type": "private", "first_name": "Tess"}
                    ),
                },
                "chat_instance": "42",
                "data": data,
            }
        }
        return self.push_update(update) if push else update

    def fail_next(self, count: int = 1, *, method: str | None = None, retry_after: int = 1) -> None:
        """Answer the next ``count`` calls (of ``method``, or of any method) with HTTP 429."""
        self._failures.extend([(method, retry_after)] * count)

    def fail_for(self, seconds: float, *, retry_after: int = 1) -> None:
        """For ``seconds`` from now, answer every call with an error and do nothing: in turn HTTP 429 (with
        ``retry_after``), 500, 502 and 503, as Telegram does when it is overloaded or down."""
        self._outage = (time.monotonic() + seconds, retry_after, itertools.count())

    def calls_to(self, method: str) -> list[ApiCall]:
        """The recorded calls of one method (e.g. "sendMessage"), successful or not."""
        return [c for c in self.calls if c.method == method]

    def sent(self, chat_id: int | None = None) -> list[ApiCall]:
        """Successful sendMessage calls (to one chat, when given)."""
        return [
            c
            for c in self.calls_to("sendMessage")
            if c.status == 200 and (chat_id is None or int(c.params["chat_id"]) == chat_id)
        ]

    def texts(self, chat_id: int) -> list[str]:
        """The current texts of the bot's text messages in a chat, oldest first (files: see ``uploads``)."""
        return [
            m["text"] for (chat, _), m in sorted(self.messages.items()) if chat == chat_id and "text" in m
        ]

    async def wait_for(
        self,
        method: str,
        count: int = 1,
        *,
        where: Callable[[ApiCall], bool] | None = None,
        within: float = 5.0,
    ) -> list[ApiCall]:
        """Wait until ``count`` successful calls of ``method`` (matching ``where``) arrived; returns them all.

        Raises:
            AssertionError: on timeout, listing the calls seen.
        """

        def found() -> list[ApiCall]:
            return [c for c in self.calls_to(method) if c.status == 200 and (where is None or where(c))]

        try:
            await asyncio.wait_for(self._until(lambda: len(found()) >= count), within)
        except TimeoutError:
            seen = [(c.method, c.status) for c in self.calls]
            raise AssertionError(f"expected {count} x {method}, got {len(found())}; calls: {seen}") from None
        return found()

    async def wait_confirmed(self, update_id: int, within: float = 5.0) -> None:
        """Wait until the client has fetched ``update_id`` (asked for a later offset)."""
        try:
            await asyncio.wait_for(self._until(lambda: self.confirmed_offset > update_id), within)
        except TimeoutError:
            raise AssertionError(f"update {update_id} was never fetched") from None

    async def _until(self, condition: Callable[[], bool]) -> None:
        while not condition():
            self._changed.clear()
            await self._changed.wait()

    async def deliver(self, url: str, update: dict[str, Any], *, secret_token: str | None) -> int:
        """POST ``update`` to a webhook as Telegram does; returns the HTTP status it answered."""
        update.setdefault("update_id", next(self._update_ids))
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret_token} if secret_token is not None else {}
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, json=update, headers=headers) as resp,
        ):
            return resp.status

    # -- the Bot API ------------------------------------------------------------------------------
    async def _dispatch(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()
        method = request.match_info["method"]
        canonical = _METHODS.get(method.lower(), method)  # Bot API method names are case-insensitive
        params = await _read_params(request)
        try:
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            if canonical.lower() not in _METHODS:
                raise ApiError(404, "Not Found")
            self._check_outage()
            for index, (only, retry_after) in enumerate(self._failures):
                if only is None or only == canonical:
                    del self._failures[index]
                    raise ApiError(
                        429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
                    )
            result = await getattr(self, f"_api_{canonical}")(params)
            body: dict[str, Any] = {"ok": True, "result": result}
            status = 200
        except ApiError as exc:
            status = exc.code
            body = {"ok": False, "error_code": exc.code, "description": exc.description}
            if exc.parameters:
                body["parameters"] = exc.parameters
        self.calls.append(ApiCall(canonical, params, status, arrived))
        self._changed.set()
        return web.json_response(body, status=status)

    def _check_outage(self) -> None:
        if self._outage is None or time.monotonic() >= self._outage[0]:
            return
        _until, retry_after, turns = self._outage
        status = list(_OUTAGE_STATUSES)[next(turns) % len(_OUTAGE_STATUSES)]
        if status == 429:
            raise ApiError(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})
        raise ApiError(status, _OUTAGE_STATUSES[status])

    async def _api_getMe(self, p: dict[str, Any]) -> Any:
        return self.me

    async def _api_getUpdates(self, p: dict[str, Any]) -> Any:
        if self.webhook is not None:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = int(p.get("offset") or 0)
        if offset:
            self.confirmed_offset = max(self.confirmed_offset, offset)
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            self._changed.set()
        deadline = time.monotonic() + float(p.get("timeout") or 0)
        while not self._updates and not self._closing and time.monotonic() < deadline:
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), deadline - time.monotonic())
            except TimeoutError:
                break
        return self._updates[: int(p.get("limit") or 100)]

    def _open_chat(self, p: dict[str, Any]) -> int:
        """The request's chat id, if the bot may write there; else Telegram's refusal."""
        chat_id = need_int(p, "chat_id")
        if chat_id in self.missing_chats:
            raise ApiError(400, "Bad Request: chat not found")
        if chat_id in self.blocked_chats:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if chat_id in self.kicked_chats:
            kind = "supergroup" if str(chat_id).startswith("-100") else "group"
            raise ApiError(403, f"Forbidden: bot was kicked from the {kind} chat")
        return chat_id

    def _record_sent(self, chat_id: int, p: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
        message_id = next(self._message_ids)
        chat = self._chats.get(chat_id, {"id": chat_id, "type": "private", "first_name": "Tess"})
        message = {"message_id": message_id, "from": self.me, "chat": chat, "date": int(time.time())}
        message.update(fields)
        for key in ("reply_markup", "message_thread_id"):
            if p.get(key):
                message[key] = p[key]
        self.messages[(chat_id, message_id)] = message
        return message

    async def _api_sendMessage(self, p: dict[str, Any]) -> Any:
        chat_id = self._open_chat(p)
        return self._record_sent(chat_id, p, {"text": check_text(p)})

    async def _api_sendPhoto(self, p: dict[str, Any]) -> Any:
        chat_id = self._open_chat(p)
        return self._record_sent(chat_id, p, self.files.uploaded("sendPhoto", p))

    async def _api_sendDocument(self, p: dict[str, Any]) -> Any:
        chat_id = self._open_chat(p)
        return self._record_sent(chat_id, p, self.files.uploaded("sendDocument", p))

    async def _api_getFile(self, p: dict[str, Any]) -> Any:
        return self.files.get_file(p)

    async def _serve_file(self, request: web.Request) -> web.StreamResponse:
        stored = self.files.by_path(request.match_info["path"])
        if request.match_info["token"] != self.token or stored is None:
            body = {"ok": False, "error_code": 404, "description": "Not Found"}
            return web.json_response(body, status=404)
        return web.Response(body=stored.data, content_type="application/octet-stream")

    async def _api_editMessageText(self, p: dict[str, Any]) -> Any:
        text = check_text(p)
        if p.get("inline_message_id"):
            return True
        message = self._message(p)
        if message["text"] == text and message.get("reply_markup") == p.get("reply_markup"):
            raise ApiError(400, NOT_MODIFIED)
        message.update(text=text, edit_date=int(time.time()))
        message.pop("reply_markup", None)
        if p.get("reply_markup"):
            message["reply_markup"] = check_markup(p["reply_markup"])
        return message

    async def _api_editMessageReplyMarkup(self, p: dict[str, Any]) -> Any:
        message = self._message(p)
        if message.get("reply_markup") == p.get("reply_markup"):
            raise ApiError(400, NOT_MODIFIED)
        message["reply_markup"] = check_markup(p.get("reply_markup") or {"inline_keyboard": []})
        return message

    async def _api_sendChatAction(self, p: dict[str, Any]) -> Any:
        self._open_chat(p)
        if p.get("action") not in _CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    async def _api_answerCallbackQuery(self, p: dict[str, Any]) -> Any:
        if not p.get("callback_query_id"):
            raise ApiError(400, "Bad Request: query_id is empty")
        return True

    async def _api_setWebhook(self, p: dict[str, Any]) -> Any:
        if not str(p.get("url", "")).startswith("https://"):
            raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        secret = p.get("secret_token")
        if secret is not None and not _SECRET_RE.match(str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        self.webhook = dict(p)
        return True

    async def _api_deleteWebhook(self, p: dict[str, Any]) -> Any:
        self.webhook = None
        if str(p.get("drop_pending_updates")).lower() == "true":
            self._updates.clear()
        return True

    async def _api_getWebhookInfo(self, p: dict[str, Any]) -> Any:
        url = (self.webhook or {}).get("url", "")
        return {"url": url, "has_custom_certificate": False, "pending_update_count": len(self._updates)}

    async def _api_setMyCommands(self, p: dict[str, Any]) -> Any:
        commands = p.get("commands")
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        for command in commands:
            if not _COMMAND_RE.match(str(command.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands = commands
        return True

    async def _api_getMyCommands(self, p: dict[str, Any]) -> Any:
        return self.commands

    async def _api_deleteMyCommands(self, p: dict[str, Any]) -> Any:
        self.commands = []
        return True

    def _message(self, p: dict[str, Any]) -> dict[str, Any]:
        key = (need_int(p, "chat_id"), need_int(p, "message_id"))
        if key not in self.messages:
            raise ApiError(400, "Bad Request: message to edit not found")
        return self.messages[key]


_METHODS = {name[5:].lower(): name[5:] for name in vars(FakeTelegramServer) if name.startswith("_api_")}


async def _read_params(request: web.Request) -> dict[str, Any]:
    """Bot API parameters from the query string, a JSON body, or a form (JSON values decoded)."""
    params: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        body = await request.json()
        params.update(body if isinstance(body, dict) else {})
    elif request.can_read_body:
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, web.FileField):  # an uploaded file: kept whole, byte for byte
                params[key] = Upload(value.filename, value.content_type, value.file.read())
            else:
                params[key] = value
    for key, value in params.items():
        if isinstance(value, str) and value[:1] in "[{":
            try:
                params[key] = json.loads(value)
            except ValueError:
                pass
    return params
