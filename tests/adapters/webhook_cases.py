"""Malformed requests a webhook server must refuse, each with the status a client gets from each platform's
server (see docs/telegram.md, docs/slack.md and docs/discord.md, "Bad requests").

A case builds raw request bytes for a :class:`~tests.adapters.webhook_targets.Target`; ``expect`` maps a
platform to its status (``"*"``: every platform).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from tests.adapters.webhook_targets import Target, request_bytes

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
MIB = 1 << 20


@dataclass
class Case:
    """One kind of malformed request.

    Attributes:
        kind: what it is, as in the findings table.
        build: the request's bytes for a target.
        expect: status per platform name, or under "*" for all.
        then_wait: the request never ends (a body still to come): the answer must come before it does.
    """

    kind: str
    build: Callable[[Target], bytes]
    expect: dict[str, int]
    then_wait: bool = False

    def status_for(self, platform: str) -> int:
        return self.expect.get(platform, self.expect.get("*", 0))


def signed(t: Target, body: bytes, content_type: str = JSON, **extra: str) -> bytes:
    """``body`` with the target's valid authentication."""
    return request_bytes(t.path, {"Content-Type": content_type, **t.sign(body, None), **extra}, body)


def with_auth(t: Target, body: bytes, auth: dict[str, str]) -> bytes:
    """``body`` with authentication headers made up by the test (forged, stale, garbled)."""
    return request_bytes(t.path, {"Content-Type": JSON, **auth}, body)


def forged(t: Target, body: bytes) -> dict[str, str]:
    headers = t.sign(body, None)
    if t.name == "telegram":
        return {"X-Telegram-Bot-Api-Secret-Token": "s3cret-Token_valuf"}  # same length, last byte differs
    if t.name == "slack":
        return {**headers, "X-Slack-Signature": "v0=" + "0" * 64}
    return {**headers, "X-Signature-Ed25519": "00" * 64}


def garbled(t: Target, body: bytes, signature: str, timestamp: str | None = None) -> dict[str, str]:
    """Authentication headers whose signature (and timestamp, when given) are not what the platform sends."""
    if t.name == "telegram":
        return {"X-Telegram-Bot-Api-Secret-Token": signature}
    headers = t.sign(body, None)
    sig_key, ts_key = (
        ("X-Slack-Signature", "X-Slack-Request-Timestamp")
        if t.name == "slack"
        else ("X-Signature-Ed25519", "X-Signature-Timestamp")
    )
    headers[sig_key] = signature if t.name == "discord" else f"v0={signature}"
    if timestamp is not None:
        headers[ts_key] = timestamp
    return headers


def stale(t: Target, body: bytes) -> dict[str, str]:
    """A signature made correctly, but an hour ago (a replayed request)."""
    return t.sign(body, int(time.time()) - 3600)


def chunked_forever(t: Target) -> bytes:
    head = request_bytes(
        t.path, {"Content-Type": JSON, **t.sign(b"", None), "Transfer-Encoding": "chunked"}, length=False
    )
    chunk = b"x" * 65536
    return head + (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * 24  # 1.5 MiB, and no last chunk


EVENT = b'{"type": "event_callback", "event": {"type": "message"}}'
CASES = [
    Case("wrong method (GET)", lambda t: request_bytes(t.path, {}, method="GET"), {"*": 405}),
    Case("wrong path", lambda t: request_bytes("/nothing-here", {"Content-Type": JSON}, b"{}"), {"*": 404}),
    Case("no authentication", lambda t: request_bytes(t.path, {"Content-Type": JSON}, b"{}"), {"*": 401}),
    Case(
        "forged authentication", lambda t: with_auth(t, b"{}", forged(t, b"{}")), {"*": 401, "telegram": 403}
    ),
    Case(
        "secret/signature not ASCII",
        lambda t: with_auth(t, b"{}", garbled(t, b"{}", "\udcff\udcfe-not-ascii")),
        {"*": 401, "telegram": 403},
    ),
    Case(
        "signature not hex",
        lambda t: with_auth(t, b"{}", garbled(t, b"{}", "zz" * 64)),
        {"*": 401, "telegram": 403},
    ),
    Case(
        "signature too short",
        lambda t: with_auth(t, b"{}", garbled(t, b"{}", "ab")),
        {"*": 401, "telegram": 403},
    ),
    Case(
        "timestamp not a number",
        lambda t: with_auth(t, b"{}", garbled(t, b"{}", "00" * 64, "12abc")),
        {"*": 401, "telegram": 403},
    ),
    Case(
        "timestamp huge",
        lambda t: with_auth(t, b"{}", garbled(t, b"{}", "00" * 64, "9" * 5000)),
        {"*": 401, "telegram": 403},
    ),
    Case(
        "replayed (stale timestamp)",
        lambda t: with_auth(t, b"{}", stale(t, b"{}")),
        {"*": 401, "telegram": 200},
    ),
    Case(
        "unsigned, charset unknown",
        lambda t: request_bytes(t.path, {"Content-Type": JSON + "; charset=nope"}, b"{}"),
        {"*": 401},
    ),
    Case(
        "unsigned, deeply nested JSON",
        lambda t: request_bytes(t.path, {"Content-Type": JSON}, b"[" * 200_000),
        {"*": 401},
    ),
    Case("unsigned, JSON list", lambda t: request_bytes(t.path, {"Content-Type": JSON}, b"[1]"), {"*": 401}),
    Case(
        "unsigned, payload= not JSON",
        lambda t: request_bytes(t.path, {"Content-Type": FORM}, b"payload=%7Bx"),
        {"*": 401},
    ),
    Case("no body", lambda t: signed(t, b""), {"*": 400}),
    Case("not JSON", lambda t: signed(t, b"{not json"), {"*": 400}),
    Case("JSON, not an object", lambda t: signed(t, b"[1, 2]"), {"*": 400}),
    Case("JSON string", lambda t: signed(t, b'"text"'), {"*": 400}),
    Case("not UTF-8", lambda t: signed(t, b'{"text": "\xff\xfe"}'), {"*": 400}),
    Case("deeply nested JSON", lambda t: signed(t, b"[" * 200_000), {"*": 400}),
    Case("wrong Content-Type", lambda t: signed(t, t.valid_body(), "text/plain"), {"*": 400}),
    Case("charset unknown", lambda t: signed(t, t.valid_body(), JSON + "; charset=nope"), {"*": 400}),
    Case(
        "form where JSON expected",
        lambda t: signed(t, urlencode({"payload": t.valid_body().decode()}).encode(), FORM),
        {"*": 400, "slack": 200},
    ),
    Case(
        "form payload= not JSON", lambda t: signed(t, b"payload=%7Bnot+json", FORM), {"*": 400, "slack": 400}
    ),
    Case(
        "form payload= a JSON list", lambda t: signed(t, b"payload=%5B1%5D", FORM), {"*": 400, "slack": 400}
    ),
    Case("form not UTF-8", lambda t: signed(t, b"command=%2Fx&text=\xff", FORM), {"*": 400, "slack": 400}),
    Case(
        "object of the wrong shape",
        lambda t: signed(
            t,
            json.dumps(
                {"type": "event_callback", "team": 5, "authorizations": "x", "event": {"user": []}}
            ).encode(),
        ),
        {"*": 400, "telegram": 200},  # Telegram: any object is an update, ignored later by its parser
    ),
    Case(
        "event not an object",
        lambda t: signed(t, EVENT.replace(b'{"type": "message"}', b"[]")),
        {"*": 400, "telegram": 200},
    ),
    Case(
        "Content-Length not a number",
        lambda t: request_bytes(t.path, {"Content-Length": "abc"}, b"{}"),
        {"*": 400},
    ),
    Case("header too large", lambda t: signed(t, b"{}", **{"X-Padding": "p" * 20_000}), {"*": 400}),
    Case("too many headers", lambda t: signed(t, b"{}", **{f"X-H{i}": "v" for i in range(200)}), {"*": 400}),
    Case("2 MiB body", lambda t: signed(t, b'{"a": "' + b"x" * (2 * MIB) + b'"}'), {"*": 413}),
    Case(
        "50 MiB declared, body still coming",
        lambda t: request_bytes(
            t.path, {"Content-Type": JSON, "Content-Length": str(50 * MIB), **t.sign(b"", None)}, b"{"
        ),
        {"*": 413},
        then_wait=True,
    ),
    Case("chunked, 1.5 MiB and more coming", chunked_forever, {"*": 413}, then_wait=True),
]
