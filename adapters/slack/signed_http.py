"""The Slack HTTP endpoint's gate: a request becomes a bolt request only once its signature is checked.

bolt's aiohttp adapter parses the body (and reads the team, user and enterprise out of it) while building
the request, before its own signature check runs: anyone who can reach the port could then make it raise
on a JSON list, an unknown charset or a non-numeric timestamp (HTTP 500 with a traceback). Here the raw
bytes are checked first, as :mod:`botkit.adapters.http_limits` describes; bolt checks the signature again.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from urllib.parse import parse_qsl

from aiohttp import web
from slack_bolt.request.async_request import AsyncBoltRequest

from botkit.adapters.http_limits import (
    HttpLimits,
    Refused,
    check_content_type,
    decode_utf8,
    json_object,
    read_body,
)
from botkit.adapters.malformed import SHAPE_ERRORS

MAX_AGE_S = 300  # Slack's advice: refuse requests signed more than 5 minutes from now (replays)
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def signature_is_valid(secret: str, headers: Mapping[str, str], body: bytes, now: float) -> bool:
    """Whether ``X-Slack-Signature`` is ``v0=`` HMAC-SHA256 of ``v0:{timestamp}:{body}`` and the timestamp
    (``X-Slack-Request-Timestamp``, whole seconds) is within :data:`MAX_AGE_S` of ``now``."""
    timestamp = headers.get("X-Slack-Request-Timestamp", "")
    signature = headers.get("X-Slack-Signature", "")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12) or not signature.isascii():
        return False
    if abs(now - int(timestamp)) > MAX_AGE_S:
        return False
    digest = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256)
    return hmac.compare_digest(f"v0={digest.hexdigest()}".encode(), signature.encode())


async def verified_request(request: web.Request, secret: str, limits: HttpLimits) -> AsyncBoltRequest:
    """The bolt request for ``request``: size and time bounded, signed, and of a shape bolt can read.

    Raises:
        Refused: 413, 408, 401 (missing, invalid or stale signature), 400 (not JSON or a form; a
            ``payload`` field or a JSON body that is not one object; an event that is not an object).
    """
    body = await read_body(request, limits)
    if not signature_is_valid(secret, request.headers, body, time.time()):
        raise Refused(401, "missing, invalid or stale signature")
    check_content_type(request, JSON, FORM)
    text = decode_utf8(body)
    if request.content_type == JSON:
        payload = json_object(text)
        if payload.get("type") == "event_callback" and not isinstance(payload.get("event"), dict):
            raise Refused(400, "event_callback whose event is not an object")
    else:
        fields = dict(parse_qsl(text, keep_blank_values=True))
        if not fields:
            raise Refused(400, "empty form")
        if "payload" in fields:
            json_object(fields["payload"], "payload field")
    try:
        return AsyncBoltRequest(body=text, query=request.query_string, headers=dict(request.headers))
    except SHAPE_ERRORS as exc:  # bolt reads team, user and enterprise ids deep in the payload
        raise Refused(400, f"payload of an unexpected shape ({type(exc).__name__})") from None
