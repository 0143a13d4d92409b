"""The fake Discord's REST API: the routes a botkit adapter calls, body validation and 429 injection.

Message bodies come as JSON or as Discord's upload form (``files``); a refused channel answers every
call with its refusal before anything else is checked.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from botkit.adapters.discord.fake_server.files import _FilesMixin
from botkit.adapters.discord.fake_server.records import Call, SentFile, SentMessage

Answer = tuple[int, Any, dict[str, str]]  # status, JSON body, headers


class _RestMixin(_FilesMixin):
    """The REST side of ``FakeDiscordServer``."""

    def fail_next(
        self,
        count: int = 1,
        *,
        method: str = "POST",
        path: str = r"/channels/\d+/messages",
        retry_after: float = 0.3,
        is_global: bool = False,
    ) -> None:
        """Answer the next ``count`` calls matching ``method`` and the ``path`` regex with HTTP 429."""
        self._failures.append((method, re.compile(path), count, retry_after, is_global))

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        body, files, failure = await self._read_body(request)
        status, payload, headers = (*failure, {}) if failure else self._route(request, path, body, files)
        self.calls.append(Call(request.method, path, body, status))
        if status == 204:
            return web.Response(status=204)
        # Discord answers "application/json" without a charset; discord.py compares the header exactly.
        return web.Response(
            body=json.dumps(payload).encode(), status=status, headers=headers, content_type="application/json"
        )

    def _route(self, request: web.Request, path: str, body: Any, files: list[SentFile]) -> Answer:
        method = request.method
        for index, (f_method, pattern, count, retry_after, is_global) in enumerate(self._failures):
            if count > 0 and f_method == method and pattern.fullmatch(path):
                self._failures[index] = (f_method, pattern, count - 1, retry_after, is_global)
                return 429, _rate_limited(retry_after, is_global), _rate_limit_headers(retry_after, is_global)
        hook = re.fullmatch(
            r"/(?:interactions/(\d+)|webhooks/(\d+))/([^/]+)(/callback|/messages/[^/]+)?", path
        )
        if hook is not None:  # interaction tokens authorise these; no bot token needed
            tail = hook.group(4) or ""
            return self._interaction_route(request, hook.group(3), tail, body, hook.group(1), files)
        if request.headers.get("Authorization") != f"Bot {self.token}":
            return 401, {"message": "401: Unauthorized", "code": 0}, {}
        if method == "GET" and path == "/users/@me":
            return 200, self.bot_user, {}
        if method == "GET" and path == "/oauth2/applications/@me":
            return 200, self._application(), {}
        if method == "GET" and path in ("/gateway/bot", "/gateway"):
            limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
            return 200, {"url": self.gateway_url, "shards": 1, "session_start_limit": limit}, {}
        if method == "PUT" and path == f"/applications/{self.application_id}/commands":
            return self._put_commands(body)
        found = re.fullmatch(r"/channels/(\d+)/(typing|messages)(?:/(\d+))?", path)
        if found is None:
            return 404, {"message": "404: Not Found", "code": 0}, {}
        channel_id, what, message_id = found.groups()
        refused = self._refusal(channel_id)
        if refused is not None:
            return *refused, {}
        if what == "typing" and method == "POST":
            return 204, None, {}
        if method == "POST" and message_id is None:
            return self._create(channel_id, body, None, files)
        return self._change(method, channel_id, message_id, body, files)

    def _application(self) -> dict[str, Any]:
        return {
            "id": self.application_id,
            "name": "botkit",
            "description": "",
            "icon": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": self.bot_user,
            "verify_key": "0" * 64,
            "flags": 0,
            "interactions_endpoint_url": None,
        }

    def _put_commands(self, body: Any) -> Answer:
        errors = [c.get("name") for c in body or [] if not _valid_command(c)]
        if not isinstance(body, list) or errors or len(body) > 100:
            return 400, {"code": 50035, "message": "Invalid Form Body", "errors": {"bad": errors}}, {}
        self.commands = [{**c, "id": self.new_id(), "application_id": self.application_id} for c in body]
        return 200, self.commands, {}

    def _create(
        self, channel_id: str, body: Any, token: str | None, files: list[SentFile] | None = None
    ) -> Answer:
        error = _invalid_body(body, edit=False)
        if error is not None:
            return 400, error, {}
        message = SentMessage(
            self.new_id(),
            channel_id,
            body.get("content") or "",
            body.get("components") or [],
            body.get("allowed_mentions"),
            [body.get("content") or ""],
            token,
            files=list(files or []),
        )
        self.messages[message.id] = message
        return 200, self._message_object(message), {}

    def _change(
        self,
        method: str,
        channel_id: str,
        message_id: str | None,
        body: Any,
        files: list[SentFile] | None = None,
    ) -> Answer:
        message = self.messages.get(message_id or "")
        if (
            message is None
            or message.deleted
            or message.channel_id != channel_id
            or method not in ("PATCH", "DELETE")
        ):
            return 404, {"message": "Unknown Message", "code": 10008}, {}
        if method == "DELETE":
            message.deleted = True
            return 204, None, {}
        error = _invalid_body(body, edit=True)
        if error is not None:
            return 400, error, {}
        if "content" in body:
            message.content = body["content"] or ""
            message.history.append(message.content)
        if "components" in body:
            message.components = body["components"] or []
        if "allowed_mentions" in body:
            message.allowed_mentions = body["allowed_mentions"]
        if "attachments" in body:  # the files to keep (by id), then the ones uploaded with this edit
            keep = {str(entry.get("id")) for entry in body["attachments"] or []}
            message.files = [f for f in message.files if f.id in keep] + list(files or [])
        return 200, self._message_object(message), {}

    def _interaction_route(
        self,
        request: web.Request,
        token: str,
        tail: str,
        body: Any,
        interaction_id: str | None,
        files: list[SentFile],
    ) -> Answer:
        interaction = self.interactions.get(token)
        unknown = {"message": "Unknown interaction", "code": 10062}
        if interaction is None or (
            interaction_id is not None and str(interaction.get("id")) != interaction_id
        ):
            return 404, unknown, {}
        iid = str(interaction["id"])
        if tail == "/callback":
            if iid in self.callbacks:
                return 400, {"message": "Interaction has already been acknowledged.", "code": 40060}, {}
            allowed = _CALLBACK_TYPES.get(int(interaction.get("type") or 0), set())
            if not isinstance(body, dict) or body.get("type") not in allowed:
                return 400, {"message": "Invalid interaction response type", "code": 50035}, {}
            self._acknowledge(interaction, body)
            if request.query.get("with_response") in ("1", "true"):
                return 200, {"interaction": {"id": iid, "type": interaction.get("type")}}, {}
            return 204, None, {}
        if iid not in self.callbacks:  # follow-ups need an acknowledged interaction
            return 404, {"message": "Unknown Webhook", "code": 10015}, {}
        if tail == "" and request.method == "POST":
            return self._create(str(interaction.get("channel_id", "")), body, token, files)
        message_ref = tail.removeprefix("/messages/")
        key = f"original:{token}" if message_ref == "@original" else message_ref
        message = self.messages.get(key)
        if message is None or message.interaction != token:
            return 404, {"message": "Unknown Message", "code": 10008}, {}
        return self._change(request.method, message.channel_id, key, body, files)

    def _message_object(self, message: SentMessage) -> dict[str, Any]:
        return {
            "id": message.id,
            "channel_id": message.channel_id,
            "type": 0,
            "content": message.content,
            "author": self.bot_user,
            "attachments": self._attachment_objects(message.files),
            "embeds": [],
            "mentions": [],
            "mention_roles": [],
            "pinned": False,
            "mention_everyone": False,
            "tts": False,
            "flags": 0,
            "timestamp": "2026-01-01T00:00:00.000000+00:00",
            "edited_timestamp": None,
            "components": message.components,
        }


def _rate_limited(retry_after: float, is_global: bool) -> dict[str, Any]:
    return {"message": "You are being rate limited.", "retry_after": retry_after, "global": is_global}


def _rate_limit_headers(retry_after: float, is_global: bool) -> dict[str, str]:
    # discord.py treats a 429 without ``Via`` as a Cloudflare ban, so the fake sends it like Discord does.
    return {
        "Retry-After": str(max(1, round(retry_after))),
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset-After": str(retry_after),
        "X-RateLimit-Bucket": "fake-bucket",
        "X-RateLimit-Scope": "global" if is_global else "user",
        "Via": "1.1 google",
    }


# Interaction type -> the callback types Discord accepts for it.
_CALLBACK_TYPES: dict[int, set[int]] = {1: {1}, 2: {4, 5, 9}, 3: {4, 5, 6, 7, 9}, 5: {4, 5, 6, 7}}
_COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")


def _valid_command(command: dict[str, Any]) -> bool:
    name, description = command.get("name", ""), command.get("description", "")
    if not _COMMAND_NAME.match(name) or name != name.lower() or not 1 <= len(description) <= 100:
        return False
    options = command.get("options") or []
    return len(options) <= 25 and all(
        _COMMAND_NAME.match(o.get("name", "")) and 1 <= len(o.get("description", "")) <= 100 for o in options
    )


def _invalid_body(body: Any, *, edit: bool) -> dict[str, Any] | None:
    """Discord's error for a bad create/edit message body, or None when it is valid."""
    if not isinstance(body, dict):
        return {"code": 50109, "message": "The request body contains invalid JSON."}
    content = body.get("content")
    if content is not None and (not isinstance(content, str) or len(content) > 2000):
        detail = {
            "content": {
                "_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}]
            }
        }
        return {"code": 50035, "message": "Invalid Form Body", "errors": detail}
    rows = body.get("components") or []
    if not edit and not content and not rows and not body.get("embeds") and not body.get("attachments"):
        return {"code": 50006, "message": "Cannot send an empty message"}
    parse = (body.get("allowed_mentions") or {}).get("parse", [])
    if not set(parse) <= {"users", "roles", "everyone"}:
        return {"code": 50035, "message": "Invalid Form Body", "errors": {"allowed_mentions": parse}}
    ids: list[str] = []
    for row in rows:
        buttons = row.get("components") or []
        if row.get("type") != 1 or not 1 <= len(buttons) <= 5 or len(rows) > 5:
            return {"code": 50035, "message": "Invalid Form Body", "errors": {"components": "bad action row"}}
        for button in buttons:
            link = button.get("style") == 5
            custom_id = button.get("custom_id")
            if (
                len(button.get("label", "")) > 80
                or link != bool(button.get("url"))
                or link == bool(custom_id)
            ):
                return {"code": 50035, "message": "Invalid Form Body", "errors": {"components": "bad button"}}
            if custom_id is not None:
                if not 1 <= len(custom_id) <= 100 or custom_id in ids:
                    return {"code": 50035, "message": "Invalid Form Body", "errors": {"custom_id": custom_id}}
                ids.append(custom_id)
    return None
